package http

import (
	"bytes"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/weirflow/weir/config"
)

const cdapHex = "0123456789ABCDEF"

// escapeBody applies CDAP's body escaping (spec §6.1) and appends the result
// to dst: bytes 0x20–0x7E stay as they are, every other byte becomes `\x` and
// two uppercase hex digits. A backslash is not doubled (CDAP does not either),
// so the output is not reversible for bodies holding the text `\xNN`.
func escapeBody(dst, body []byte) []byte {
	for _, c := range body {
		if c >= 0x20 && c <= 0x7E {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '\\', 'x', cdapHex[c>>4], cdapHex[c&0xF])
	}
	return dst
}

// appendBodyJSON appends the escaped body as a JSON string in one pass: the
// escaped text is pure printable ASCII, so JSON only needs `"` and `\` escaped
// (and the `\` of each `\x` escape doubled).
func appendBodyJSON(dst, body []byte) []byte {
	dst = append(dst, '"')
	for _, c := range body {
		switch {
		case c == '"':
			dst = append(dst, '\\', '"')
		case c == '\\':
			dst = append(dst, '\\', '\\')
		case c >= 0x20 && c <= 0x7E:
			dst = append(dst, c)
		default:
			dst = append(dst, '\\', '\\', 'x', cdapHex[c>>4], cdapHex[c&0xF])
		}
	}
	return append(dst, '"')
}

// appendHeadersJSON appends headers as a JSON object, keys sorted so answers
// are stable.
func appendHeadersJSON(dst []byte, h map[string]string) []byte {
	if len(h) == 0 {
		return append(dst, '{', '}')
	}
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		cdapWriteString(&b, k)
		b.WriteByte(':')
		cdapWriteString(&b, h[k])
	}
	b.WriteByte('}')
	return append(dst, b.Bytes()...)
}

// appendEventJSON appends one raw event element (spec §6).
func appendEventJSON(dst []byte, e *config.Event) []byte {
	dst = append(dst, `{"timestamp":`...)
	dst = strconv.AppendInt(dst, e.Timestamp/1000, 10)
	dst = append(dst, `,"headers":`...)
	dst = appendHeadersJSON(dst, e.Headers)
	dst = append(dst, `,"body":`...)
	dst = appendBodyJSON(dst, e.Body)
	return append(dst, '}')
}

// eventHeaders turns request headers named `<stream-id>.<name>` (prefix
// matched ignoring case) into event headers `<name>` lower-cased, values
// verbatim (spec §6.2). reserved names (content.type, schema, schema.hash
// for batches) count as already present. A repeated name is a 400.
func eventHeaders(h http.Header, streamID string, reserved ...string) (map[string]string, *cdapErr) {
	prefix := strings.ToLower(streamID) + "."
	var out map[string]string
	for k, vals := range h {
		if len(k) < len(prefix) || !strings.EqualFold(k[:len(prefix)], prefix) {
			continue
		}
		name := strings.ToLower(k[len(prefix):])
		for _, r := range reserved {
			if name == r {
				return nil, cdapBadRequest("Duplicate event header '%s'", name)
			}
		}
		if out == nil {
			out = make(map[string]string, 2)
		}
		if _, dup := out[name]; dup || len(vals) != 1 {
			return nil, cdapBadRequest("Duplicate event header '%s'", name)
		}
		out[name] = vals[0]
	}
	return out, nil
}
