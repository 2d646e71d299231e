package http

import (
	"bytes"
	"testing"
)

func TestSplitNDJSON(t *testing.T) {
	cases := []struct {
		name string
		body string
		want []string
	}{
		{"case14", "{\"n\":1}\n{\"n\":2}\n\n{\"n\":3}\n", []string{`{"n":1}`, `{"n":2}`, `{"n":3}`}},
		{"case15_crlf", "{\"s\":1}\r\n\r\n{\"s\":2}\r\n", []string{`{"s":1}`, `{"s":2}`}},
		{"case16_no_final_newline", "{\"q\":1}\n{\"q\":2}", []string{`{"q":1}`, `{"q":2}`}},
		{"case17_no_events", "\n\r\n\n", nil},
		{"only_newline", "\n", nil},
		{"spaces_are_not_empty", "  \n\t\n", []string{"  ", "\t"}},
		{"inner_cr_kept", "a\rb\r\n", []string{"a\rb"}},
		{"cr_only_at_end_of_line_removed_once", "a\r\r\n", []string{"a\r"}},
		{"trailing_cr_without_newline_dropped", "a\r", []string{"a"}},
		{"last_line_cr_dropped_once", "a\r\nb\r\r", []string{"a", "b\r"}},
		{"lone_cr_is_no_event", "\r", nil},
		{"one_line", "x", []string{"x"}},
		{"array_line", "[1,2]\n", []string{"[1,2]"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := splitNDJSON([]byte(tc.body))
			if len(got) != len(tc.want) {
				t.Fatalf("got %d events %q, want %q", len(got), got, tc.want)
			}
			for i := range got {
				if string(got[i]) != tc.want[i] {
					t.Fatalf("event %d = %q, want %q", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestIsNDJSON(t *testing.T) {
	cases := map[string]bool{
		"application/x-ndjson":                 true,
		"Application/X-NDJSON":                 true,
		"application/x-ndjson; charset=utf-8":  true,
		" application/x-ndjson ;charset=UTF-8": true,
		"application/x-ndjson; bad param":      true,
		"application/json":                     false,
		"":                                     false,
		"text/plain":                           false,
		"application/x-ndjsonx":                false,
		"application/octet-stream":             false,
	}
	for ct, want := range cases {
		if got := isNDJSON(ct); got != want {
			t.Errorf("isNDJSON(%q) = %v, want %v", ct, got, want)
		}
	}
}

// FuzzSplitNDJSON checks the splitter's invariants on any body: no event is
// empty or holds "\n"; no event ends in the "\r" of a "\r\n"; joining the
// events back with "\n" gives the body with blank lines and line-ending
// "\r"s removed; events alias the body.
func FuzzSplitNDJSON(f *testing.F) {
	for _, s := range []string{"{\"n\":1}\n{\"n\":2}\n\n{\"n\":3}\n", "{\"s\":1}\r\n\r\n{\"s\":2}\r\n", "\n\r\n\n", "a\r\r\n b", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		events := splitNDJSON(body)
		var want [][]byte
		for _, line := range bytes.Split(body, []byte{'\n'}) {
			want = append(want, line)
		}
		// Reference: split on \n, strip one \r from every line (the last one
		// too: a CRLF cut short), drop empties.
		var ref [][]byte
		for _, line := range want {
			line = bytes.TrimSuffix(line, []byte{'\r'})
			if len(line) > 0 {
				ref = append(ref, line)
			}
		}
		if len(events) != len(ref) {
			t.Fatalf("%q: %d events, want %d", body, len(events), len(ref))
		}
		for i := range events {
			if len(events[i]) == 0 || bytes.IndexByte(events[i], '\n') >= 0 || !bytes.Equal(events[i], ref[i]) {
				t.Fatalf("%q: event %d = %q, want %q", body, i, events[i], ref[i])
			}
			if cap(events[i]) != len(events[i]) {
				t.Fatalf("event %d has spare capacity: appending to it would overwrite the body", i)
			}
		}
	})
}
