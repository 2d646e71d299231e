package http

import (
	"encoding/binary"
	"unicode/utf8"
)

// maxSpliceDepth is encoding/json's nesting limit: deeper values are invalid
// there, so they must not be spliced into a poll answer either.
const maxSpliceDepth = 10000

// validJSONValue reports whether b is valid UTF-8 holding exactly one JSON
// value (RFC 8259), with optional surrounding whitespace and at most
// maxSpliceDepth nested arrays/objects. It is the splice test of rule 6a and
// answers exactly utf8.Valid(b) && json.Valid(b) (a fuzz target checks the
// two agree), in one pass and several times faster: the poll encoder runs it
// on every event it hands out.
func validJSONValue(b []byte) bool {
	v := jsonValidator{b: b}
	v.ws()
	if !v.value() {
		return false
	}
	v.ws()
	return v.i == len(b)
}

type jsonValidator struct {
	b     []byte
	i     int
	depth int
}

// plainString marks the bytes that stand for themselves inside a JSON
// string: printable ASCII except '"' and '\\'.
var plainString = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func (v *jsonValidator) ws() {
	for v.i < len(v.b) {
		switch v.b[v.i] {
		case ' ', '\t', '\n', '\r':
			v.i++
		default:
			return
		}
	}
}

func (v *jsonValidator) value() bool {
	if v.i >= len(v.b) {
		return false
	}
	switch c := v.b[v.i]; {
	case c == '"':
		return v.str()
	case c == '{':
		return v.container('}')
	case c == '[':
		return v.container(']')
	case c == 't':
		return v.lit("true")
	case c == 'f':
		return v.lit("false")
	case c == 'n':
		return v.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return v.num()
	}
	return false
}

func (v *jsonValidator) lit(s string) bool {
	if len(v.b)-v.i < len(s) || string(v.b[v.i:v.i+len(s)]) != s {
		return false
	}
	v.i += len(s)
	return true
}

// container checks an object (close '}') or array (close ']') starting at
// its opening bracket.
func (v *jsonValidator) container(closer byte) bool {
	v.depth++
	if v.depth > maxSpliceDepth {
		return false
	}
	v.i++
	v.ws()
	if v.i < len(v.b) && v.b[v.i] == closer {
		v.i++
		v.depth--
		return true
	}
	for {
		if closer == '}' {
			if v.i >= len(v.b) || v.b[v.i] != '"' || !v.str() {
				return false
			}
			v.ws()
			if v.i >= len(v.b) || v.b[v.i] != ':' {
				return false
			}
			v.i++
			v.ws()
		}
		if !v.value() {
			return false
		}
		v.ws()
		if v.i >= len(v.b) {
			return false
		}
		switch v.b[v.i] {
		case ',':
			v.i++
			v.ws()
		case closer:
			v.i++
			v.depth--
			return true
		default:
			return false
		}
	}
}

// str checks a string starting at its opening quote: escapes, no raw
// control characters, valid UTF-8 (no surrogate halves).
func (v *jsonValidator) str() bool {
	b := v.b
	i := v.i + 1
	for i < len(b) {
		// Skip 8 plain bytes at a time (SWAR): stop at any byte that is
		// non-ASCII, a control character, '"' or '\\'. A false alarm only
		// sends the next byte through the exact check below.
		for i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			if (x|(x-lo*0x20)|hasZero(x^(lo*'"'))|hasZero(x^(lo*'\\')))&hi != 0 {
				break
			}
			i += 8
		}
		if i >= len(b) {
			break
		}
		c := b[i]
		if plainString[c] {
			i++
			continue
		}
		switch {
		case c == '"':
			v.i = i + 1
			return true
		case c == '\\':
			if i+1 >= len(b) {
				return false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return false
				}
				for _, h := range b[i+2 : i+6] {
					if !isHex(h) {
						return false
					}
				}
				i += 6
			default:
				return false
			}
		case c < 0x20:
			return false
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return false
			}
			i += size
		}
	}
	return false
}

const (
	lo = 0x0101010101010101
	hi = 0x8080808080808080
)

// hasZero sets the high bit of (at least) the first zero byte of x; bytes
// before the first zero are never flagged, later ones may be.
func hasZero(x uint64) uint64 { return (x - lo) &^ x }

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func (v *jsonValidator) num() bool {
	b := v.b
	i := v.i
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	v.i = i
	return true
}
