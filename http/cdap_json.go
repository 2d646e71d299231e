package http

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// CDAP parses request bodies (stream properties, namespace meta) with Gson in
// lenient mode, and its own tests rely on that (`{'notification.threshold.mb': 1}`).
// encoding/json cannot do this, so the CDAP family carries a small lenient
// reader: single-quoted strings, unquoted names and values, `=`/`=>` as name
// separators, `;` as pair separator, and `//`, `/* */`, `#` comments. It keeps
// numbers as their text so callers decide which integer width they accept.

// jkind is the kind of a lenient JSON value.
type jkind uint8

const (
	jNull jkind = iota
	jBool
	jNumber
	jString
	jArray
	jObject
)

func (k jkind) String() string {
	switch k {
	case jNull:
		return "null"
	case jBool:
		return "boolean"
	case jNumber:
		return "number"
	case jString:
		return "string"
	case jArray:
		return "array"
	default:
		return "object"
	}
}

// jvalue is one parsed value. Objects keep their members in input order; a
// repeated name keeps the last value, as Gson does.
type jvalue struct {
	kind jkind
	// text is the string value, the number's literal text, or "true"/"false".
	text string
	arr  []*jvalue
	keys []string
	vals []*jvalue
}

// get returns an object member (last one wins) and whether it is present.
func (v *jvalue) get(name string) (*jvalue, bool) {
	if v == nil || v.kind != jObject {
		return nil, false
	}
	for i := len(v.keys) - 1; i >= 0; i-- {
		if v.keys[i] == name {
			return v.vals[i], true
		}
	}
	return nil, false
}

// maxJSONDepth bounds nesting so a hostile body cannot exhaust the stack.
const maxJSONDepth = 128

var errJSONEnd = errors.New("unexpected end of input")

// parseLenientJSON parses one complete document. Anything after the value
// other than whitespace and comments is an error ("did not consume the
// entire document", as Gson says).
func parseLenientJSON(data []byte) (*jvalue, error) {
	p := &jparser{s: data}
	p.skipSpace()
	if p.i >= len(p.s) {
		return nil, errJSONEnd
	}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.i < len(p.s) {
		return nil, fmt.Errorf("unexpected %q at offset %d after the document", p.s[p.i], p.i)
	}
	return v, nil
}

type jparser struct {
	s []byte
	i int
}

func (p *jparser) skipSpace() {
	for p.i < len(p.s) {
		switch c := p.s[p.i]; c {
		case ' ', '\t', '\n', '\r', '\f':
			p.i++
		case '#':
			p.skipLine()
		case '/':
			if p.i+1 >= len(p.s) {
				return
			}
			switch p.s[p.i+1] {
			case '/':
				p.skipLine()
			case '*':
				end := strings.Index(string(p.s[p.i+2:]), "*/")
				if end < 0 {
					p.i = len(p.s)
					return
				}
				p.i += 2 + end + 2
			default:
				return
			}
		default:
			return
		}
	}
}

func (p *jparser) skipLine() {
	for p.i < len(p.s) && p.s[p.i] != '\n' {
		p.i++
	}
}

func (p *jparser) value(depth int) (*jvalue, error) {
	if depth > maxJSONDepth {
		return nil, errors.New("nesting too deep")
	}
	if p.i >= len(p.s) {
		return nil, errJSONEnd
	}
	switch c := p.s[p.i]; c {
	case '{':
		return p.object(depth)
	case '[':
		return p.array(depth)
	case '"', '\'':
		s, err := p.quoted(c)
		if err != nil {
			return nil, err
		}
		return &jvalue{kind: jString, text: s}, nil
	default:
		lit := p.literal()
		if lit == "" {
			return nil, fmt.Errorf("unexpected %q at offset %d", c, p.i)
		}
		switch {
		case lit == "null":
			return &jvalue{kind: jNull}, nil
		case lit == "true" || lit == "false":
			return &jvalue{kind: jBool, text: lit}, nil
		case isJSONNumber(lit):
			return &jvalue{kind: jNumber, text: lit}, nil
		default:
			// Gson's lenient reader takes any other bare word as a string.
			return &jvalue{kind: jString, text: lit}, nil
		}
	}
}

func (p *jparser) object(depth int) (*jvalue, error) {
	p.i++ // {
	v := &jvalue{kind: jObject}
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return v, nil
	}
	for {
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, errJSONEnd
		}
		var name string
		switch c := p.s[p.i]; c {
		case '"', '\'':
			s, err := p.quoted(c)
			if err != nil {
				return nil, err
			}
			name = s
		default:
			name = p.literal()
			if name == "" {
				return nil, fmt.Errorf("expected a name at offset %d", p.i)
			}
		}
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, errJSONEnd
		}
		switch p.s[p.i] {
		case ':':
			p.i++
		case '=':
			p.i++
			if p.i < len(p.s) && p.s[p.i] == '>' {
				p.i++
			}
		default:
			return nil, fmt.Errorf("expected ':' at offset %d", p.i)
		}
		p.skipSpace()
		val, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		v.keys = append(v.keys, name)
		v.vals = append(v.vals, val)
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, errJSONEnd
		}
		switch p.s[p.i] {
		case ',', ';':
			p.i++
		case '}':
			p.i++
			return v, nil
		default:
			return nil, fmt.Errorf("expected ',' or '}' at offset %d", p.i)
		}
	}
}

func (p *jparser) array(depth int) (*jvalue, error) {
	p.i++ // [
	v := &jvalue{kind: jArray}
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		return v, nil
	}
	for {
		p.skipSpace()
		el, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		v.arr = append(v.arr, el)
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, errJSONEnd
		}
		switch p.s[p.i] {
		case ',', ';':
			p.i++
		case ']':
			p.i++
			return v, nil
		default:
			return nil, fmt.Errorf("expected ',' or ']' at offset %d", p.i)
		}
	}
}

// literal reads an unquoted word: everything up to a structural character,
// whitespace or a comment start.
func (p *jparser) literal() string {
	start := p.i
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case '{', '}', '[', ']', ':', ',', ';', '=', '#', '/', '\\', '"', '\'', ' ', '\t', '\n', '\r', '\f':
			return string(p.s[start:p.i])
		}
		p.i++
	}
	return string(p.s[start:p.i])
}

func (p *jparser) quoted(q byte) (string, error) {
	p.i++ // opening quote
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == q:
			p.i++
			return b.String(), nil
		case c == '\\':
			p.i++
			if p.i >= len(p.s) {
				return "", errJSONEnd
			}
			e := p.s[p.i]
			p.i++
			switch e {
			case '"', '\'', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case '\n':
				b.WriteByte('\n')
			case 'u':
				r, err := p.hex4()
				if err != nil {
					return "", err
				}
				if utf16IsHighSurrogate(r) && p.i+6 <= len(p.s) && p.s[p.i] == '\\' && p.s[p.i+1] == 'u' {
					save := p.i
					p.i += 2
					lo, err := p.hex4()
					if err == nil && lo >= 0xDC00 && lo <= 0xDFFF {
						r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
					} else {
						p.i = save
					}
				}
				b.WriteRune(r)
			default:
				return "", fmt.Errorf("invalid escape \\%c at offset %d", e, p.i-1)
			}
		default:
			// Copy a whole UTF-8 sequence (or one invalid byte) at a time.
			r, size := utf8.DecodeRune(p.s[p.i:])
			if r == utf8.RuneError && size == 1 {
				b.WriteByte(c)
			} else {
				b.Write(p.s[p.i : p.i+size])
			}
			p.i += size
		}
	}
	return "", errors.New("unterminated string")
}

func utf16IsHighSurrogate(r rune) bool { return r >= 0xD800 && r <= 0xDBFF }

func (p *jparser) hex4() (rune, error) {
	if p.i+4 > len(p.s) {
		return 0, errJSONEnd
	}
	n, err := strconv.ParseUint(string(p.s[p.i:p.i+4]), 16, 32)
	if err != nil {
		return 0, fmt.Errorf("invalid \\u escape at offset %d", p.i)
	}
	p.i += 4
	return rune(n), nil
}

// isJSONNumber reports whether s is a JSON number literal.
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if digits() == 0 {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// jsonInt reads an integer from a number or a string holding one (CDAP
// accepts `"ttl":"100"`). Fractions, exponents and out-of-range values are
// errors: a TTL of 1.5 s has no meaning in CDAP's long.
func jsonInt(v *jvalue, bits int) (int64, error) {
	if v.kind != jNumber && v.kind != jString {
		return 0, fmt.Errorf("expected an integer, got %s", v.kind)
	}
	// CDAP reads these members with Java's Long.parseLong/Integer.parseInt
	// on the text: an optional sign (`+` too), decimal digits, and no
	// surrounding spaces (`" 100"` is refused, `"+100"` is 100).
	n, err := strconv.ParseInt(v.text, 10, bits)
	if err != nil {
		return 0, fmt.Errorf("expected a %d-bit integer, got %q", bits, v.text)
	}
	return n, nil
}

// jsonText reads a string, taking a number or boolean as its text.
func jsonText(v *jvalue) (string, error) {
	switch v.kind {
	case jString, jNumber, jBool:
		return v.text, nil
	}
	return "", fmt.Errorf("expected a string, got %s", v.kind)
}
