package http

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/weirflow/weir/config"
)

func chunkOf(topic string, partition int, start int64, bodies ...string) config.Chunk {
	ch := config.Chunk{Topic: topic, Partition: partition, StartOffset: start}
	for i, b := range bodies {
		ch.Events = append(ch.Events, config.Event{Partition: partition, Offset: start + int64(i), Body: []byte(b)})
	}
	return ch
}

// TestPollBodyGolden pins the exact bytes of poll answers (key order, token,
// version, startOffset as a string, no whitespace, no trailing newline).
func TestPollBodyGolden(t *testing.T) {
	cases := map[string][]config.Chunk{
		"spec_example": {chunkOf("orders", 2, 40, `{"sku":"a1","qty":2}`, "plain text body")},
		"case35":       {chunkOf("T", 0, 0, `{"a":1}`)},
		"two_items": {
			chunkOf("a", 3, 9223372036854775806, "1", " [1, 2] "),
			chunkOf("b.c-d_e", 0, 0, "\"s\"", "a\"b\\c\n", "\x22\xff\x22", "\xff\xfe", "{\"a\":", "\u2028<&>\x01\t"),
		},
		"empty": nil,
	}
	for name, chunks := range cases {
		t.Run(name, func(t *testing.T) {
			got := appendPollBody(nil, chunks)
			if !json.Valid(got) {
				t.Fatalf("invalid JSON: %s", got)
			}
			golden := filepath.Join("testdata", "polar", "poll_"+name+".json")
			if os.Getenv("WEIR_UPDATE_GOLDEN") != "" {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("poll body\n got %s\nwant %s", got, want)
			}
		})
	}
}

// TestPollValueRule checks rule 6a value by value: valid UTF-8 holding one
// JSON value is spliced byte for byte, anything else decodes back as a
// string (invalid UTF-8 as U+FFFD).
func TestPollValueRule(t *testing.T) {
	cases := []struct {
		body    string
		spliced bool
		str     string // the decoded string when not spliced
	}{
		{`{"a":1}`, true, ""},
		{`42`, true, ""},
		{`"s"`, true, ""},
		{` [1, 2] `, true, ""},
		{"\n\t{\"x\":[true,null,1e5]}\r\n", true, ""},
		{`"é"`, true, ""},
		{`not json at all`, false, "not json at all"},
		{`{"a":`, false, `{"a":`},
		{"a\"b\\c\n", false, "a\"b\\c\n"},
		{"\x22\xff\x22", false, "\"\ufffd\""},
		{"\xff\xfe", false, "\ufffd\ufffd"},
		{"1 2", false, "1 2"},
		{"", false, ""},
		{" ", false, " "},
		{"\x00\x1f", false, "\x00\x1f"},
		{"\u2028\u2029", false, "\u2028\u2029"},
		{"<b>&amp;</b>", false, "<b>&amp;</b>"},
		{"\xed\xa0\x80", false, "\ufffd\ufffd\ufffd"}, // a UTF-16 surrogate is not valid UTF-8
	}
	for _, tc := range cases {
		got := appendPollValue(nil, []byte(tc.body))
		if !json.Valid(got) {
			t.Fatalf("%q: invalid JSON %q", tc.body, got)
		}
		if tc.spliced {
			if string(got) != tc.body {
				t.Fatalf("%q: not spliced byte for byte: %q", tc.body, got)
			}
			continue
		}
		var s string
		if err := json.Unmarshal(got, &s); err != nil {
			t.Fatalf("%q: %q is not a JSON string: %v", tc.body, got, err)
		}
		if s != tc.str {
			t.Fatalf("%q: decodes to %q, want %q", tc.body, s, tc.str)
		}
	}
}

// TestJSONStringMatchesEncodingJSON: for valid UTF-8, our string encoder
// decodes to the input, like encoding/json's.
func TestJSONStringMatchesEncodingJSON(t *testing.T) {
	inputs := []string{"", "abc", "tab\there", "\x7f", "日本語キー", "clé", strings.Repeat("x\"", 100), "\U0001F600"}
	for _, in := range inputs {
		got := appendJSONString(nil, []byte(in))
		var s string
		if err := json.Unmarshal(got, &s); err != nil || s != in {
			t.Fatalf("%q: got %q (%v) decoding to %q", in, got, err, s)
		}
	}
}

// FuzzPollEncoder: whatever the stored bodies and topic, the poll answer is
// valid JSON, has one item per chunk with the right metadata, and every
// value decodes back: spliced ones to the same JSON, string ones to the body
// (with invalid UTF-8 replaced).
func FuzzPollEncoder(f *testing.F) {
	f.Add("t1", int64(0), []byte(`{"a":1}`), []byte("not json"))
	f.Add("orders", int64(40), []byte("\xff\xfe"), []byte(` [1, 2] `))
	f.Add("x", int64(7), []byte("\"\xff\""), []byte("a\"b\\c\n"))
	f.Add("y", int64(1<<40), []byte(""), []byte("\u2028\x00"))
	f.Fuzz(func(t *testing.T, topic string, start int64, a, b []byte) {
		if start < 0 {
			start = -start
		}
		if start < 0 {
			start = 0
		}
		chunks := []config.Chunk{
			{Topic: topic, Partition: 1, StartOffset: start, Events: []config.Event{{Body: a}, {Body: b}}},
			{Topic: topic, Partition: 0, StartOffset: 0, Events: []config.Event{{Body: b}}},
		}
		out := appendPollBody(nil, chunks)
		if !json.Valid(out) {
			t.Fatalf("invalid JSON: %q", out)
		}
		var items []struct {
			Topic       string            `json:"topic"`
			Token       string            `json:"token"`
			RangeIndex  int               `json:"rangeIndex"`
			Version     int               `json:"version"`
			StartOffset string            `json:"startOffset"`
			Values      []json.RawMessage `json:"values"`
		}
		if err := json.Unmarshal(out, &items); err != nil {
			t.Fatal(err)
		}
		if len(items) != 2 || len(items[0].Values) != 2 || len(items[1].Values) != 1 {
			t.Fatalf("shape: %q", out)
		}
		if items[0].Token != polarToken || items[0].Version != 1 || items[0].RangeIndex != 1 {
			t.Fatalf("metadata: %+v", items[0])
		}
		if utf8.ValidString(topic) && items[0].Topic != topic {
			t.Fatalf("topic %q decoded as %q", topic, items[0].Topic)
		}
		for i, body := range [][]byte{a, b} {
			checkValue(t, body, items[0].Values[i])
		}
		checkValue(t, b, items[1].Values[0])
	})
}

func checkValue(t *testing.T, body []byte, v json.RawMessage) {
	t.Helper()
	if utf8.Valid(body) && json.Valid(body) {
		if !bytes.Equal(bytes.TrimSpace(v), bytes.TrimSpace(body)) {
			t.Fatalf("spliced %q came back as %q", body, v)
		}
		return
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		t.Fatalf("%q: value %q is not a string: %v", body, v, err)
	}
	if want := string(bytes.ToValidUTF8(body, []byte("\ufffd"))); !utf8.Valid(body) {
		// ToValidUTF8 folds a run of bad bytes into one U+FFFD; we emit one
		// per byte (as encoding/json does), so compare with runs collapsed.
		if collapse(s) != collapse(want) {
			t.Fatalf("%q decoded to %q, want %q", body, s, want)
		}
	} else if s != string(body) {
		t.Fatalf("%q decoded to %q", body, s)
	}
}

func collapse(s string) string {
	var b strings.Builder
	prev := false
	for _, r := range s {
		if r == utf8.RuneError {
			if prev {
				continue
			}
			prev = true
		} else {
			prev = false
		}
		b.WriteRune(r)
	}
	return b.String()
}
