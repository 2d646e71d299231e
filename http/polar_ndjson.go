package http

import (
	"bytes"
	"mime"
	"strings"
)

// isNDJSON reports whether a produce request's Content-Type is
// application/x-ndjson. The media type is parsed, so case and parameters
// (charset=utf-8) do not matter; upstream compared the raw header and stored
// a whole NDJSON body with a charset parameter as one event (6c). A header
// that does not parse is "any other type": the body is one event.
func isNDJSON(contentType string) bool {
	if contentType == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		// ParseMediaType rejects some parameter syntax it could still read the
		// type from; the type alone decides here.
		mt = strings.ToLower(strings.TrimSpace(strings.SplitN(contentType, ";", 2)[0]))
	}
	return mt == "application/x-ndjson"
}

// splitNDJSON returns the events of an NDJSON body: one per non-empty line,
// in body order. "\n" and "\r\n" end a line and the "\r" of "\r\n" is never
// part of an event; a last line without a newline still counts, and loses
// one final "\r" too (a CRLF cut short; bufio.ScanLines, Python and Node
// line readers drop it as well); a line of spaces is not empty. The events
// alias body (no copies): the engine stores them as they are.
func splitNDJSON(body []byte) [][]byte {
	n := bytes.Count(body, []byte{'\n'}) + 1
	events := make([][]byte, 0, n)
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if len(line) > 0 {
			events = append(events, line[:len(line):len(line)])
		}
	}
	return events
}
