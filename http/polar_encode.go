package http

import (
	"strconv"
	"unicode/utf8"

	"github.com/weirflow/weir/config"
)

// polarToken is the ring token every poll item carries. weir is one broker
// owning the whole ring, so its token is the ring's start (spec §4.2).
const polarToken = "-9223372036854775808"

// appendPollBody appends the JSON array a 200 poll answers with: one item per
// chunk, keys in the exact order PolarStreams clients expect (topic, token,
// rangeIndex, version, startOffset, values), no whitespace, no trailing
// newline. The result is always valid JSON whatever the stored bodies hold
// (rule 6a, see appendPollValue).
func appendPollBody(dst []byte, chunks []config.Chunk) []byte {
	dst = append(dst, '[')
	for i, ch := range chunks {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"topic":`...)
		dst = appendJSONString(dst, []byte(ch.Topic))
		dst = append(dst, `,"token":"`+polarToken+`","rangeIndex":`...)
		dst = strconv.AppendInt(dst, int64(ch.Partition), 10)
		dst = append(dst, `,"version":1,"startOffset":"`...)
		dst = strconv.AppendInt(dst, ch.StartOffset, 10)
		dst = append(dst, `","values":[`...)
		for j := range ch.Events {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = appendPollValue(dst, ch.Events[j].Body)
		}
		dst = append(dst, "]}"...)
	}
	return append(dst, ']')
}

// pollBodySize estimates the encoded size of chunks so the buffer is grown
// once: raw bodies plus the fixed item overhead. String-encoded bodies may
// need more (escapes); append grows the buffer then.
func pollBodySize(chunks []config.Chunk) int {
	n := 2
	for _, ch := range chunks {
		n += 128 + len(ch.Topic)
		for j := range ch.Events {
			n += len(ch.Events[j].Body) + 3
		}
	}
	return n
}

// appendPollValue writes one event body as a JSON value. A body that is
// valid UTF-8 and exactly one JSON value (surrounding whitespace allowed) is
// spliced byte for byte, so JSON producers read back what they sent; any
// other body becomes a JSON string. Upstream splices every body raw, which
// breaks the whole response for non-JSON bodies; weir never does (6a).
func appendPollValue(dst, body []byte) []byte {
	// A spliced value must also be valid UTF-8 (json.Valid alone accepts
	// invalid UTF-8 inside strings) for the response to be valid JSON text.
	if validJSONValue(body) {
		return append(dst, body...)
	}
	return appendJSONString(dst, body)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string with the standard escapes.
// Invalid UTF-8 becomes U+FFFD (as encoding/json does), and U+2028/U+2029
// are escaped so the output is also safe to embed in JavaScript.
func appendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
