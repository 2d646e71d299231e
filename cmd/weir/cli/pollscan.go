package cli

import (
	"bytes"
	"errors"
	"fmt"
)

// eachPollValue calls fn with the raw bytes of every element of every
// "values" array of a PolarStreams poll answer
// (`[{"topic":…,"values":[v,…]},…]`), in order, without decoding them.
// `weir bench consume` counts events this way: decoding a ~1 MiB answer
// with encoding/json ran at ~100 MB/s and made the bench client, not the
// server, the bottleneck. The scan checks the answer's structure (arrays,
// objects, strings with escapes, nesting) but not the grammar of numbers
// and literals; an answer it cannot follow is an error.
func eachPollValue(body []byte, fn func(v []byte)) error {
	s := scanner{b: body}
	if !s.expect('[') {
		return s.err("a poll answer is a JSON array")
	}
	if s.peek() == ']' {
		s.i++
		return s.end()
	}
	for {
		if !s.expect('{') {
			return s.err("each poll item is a JSON object")
		}
		if s.peek() == '}' {
			s.i++
		} else {
			for {
				key, ok := s.str()
				if !ok || !s.expect(':') {
					return s.err("bad object member")
				}
				if string(key) == "values" {
					if err := s.eachElement(fn); err != nil {
						return err
					}
				} else if !s.skipValue() {
					return s.err("bad value")
				}
				if s.expect(',') {
					continue
				}
				if !s.expect('}') {
					return s.err("unterminated object")
				}
				break
			}
		}
		if s.expect(',') {
			continue
		}
		if !s.expect(']') {
			return s.err("unterminated array")
		}
		return s.end()
	}
}

type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// expect consumes c (after white space) if it is next.
func (s *scanner) expect(c byte) bool {
	if s.peek() == c && s.i < len(s.b) {
		s.i++
		return true
	}
	return false
}

func (s *scanner) err(what string) error {
	return fmt.Errorf("poll answer: %s (at byte %d)", what, s.i)
}

func (s *scanner) end() error {
	if s.ws(); s.i != len(s.b) {
		return s.err("data after the answer")
	}
	return nil
}

// str consumes a string and returns its raw contents (escapes left as
// they are).
func (s *scanner) str() ([]byte, bool) {
	if !s.expect('"') {
		return nil, false
	}
	start := s.i
	for {
		j := bytes.IndexByte(s.b[s.i:], '"')
		if j < 0 {
			return nil, false
		}
		s.i += j
		// The quote ends the string unless an odd number of backslashes
		// escapes it.
		k := s.i
		for k > start && s.b[k-1] == '\\' {
			k--
		}
		if (s.i-k)%2 == 0 {
			out := s.b[start:s.i]
			s.i++
			return out, true
		}
		s.i++
	}
}

// skipValue consumes one value of any kind.
func (s *scanner) skipValue() bool {
	switch s.peek() {
	case '"':
		_, ok := s.str()
		return ok
	case '{', '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '"':
				if _, ok := s.str(); !ok {
					return false
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					s.i++
					return true
				}
			}
			s.i++
		}
		return false
	case 0, ',', ':', '}', ']':
		return false
	default: // number, true, false, null
		start := s.i
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case ',', '}', ']', ' ', '\t', '\r', '\n':
				return s.i > start
			}
			s.i++
		}
		return s.i > start
	}
}

// eachElement consumes an array, calling fn with each element's bytes.
func (s *scanner) eachElement(fn func(v []byte)) error {
	if !s.expect('[') {
		return errors.New("poll answer: \"values\" is not an array")
	}
	if s.expect(']') {
		return nil
	}
	for {
		s.ws()
		start := s.i
		if !s.skipValue() {
			return s.err("bad element of \"values\"")
		}
		fn(s.b[start:s.i])
		if s.expect(',') {
			continue
		}
		if s.expect(']') {
			return nil
		}
		return s.err("unterminated \"values\"")
	}
}
