package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestErrorMessage(t *testing.T) {
	cases := []struct {
		name, body string
		status     int
		want       string
	}{
		{"admin json", `{"error":"topic not found: \"x\""}`, 404, `topic not found: "x"`},
		{"lint json", `{"lint_errors":["(1,1) a","(2,1) b"],"linting_errors":["(1,1) a","(2,1) b"]}`, 400, "lint errors:\n  (1,1) a\n  (2,1) b"},
		{"text with newline", "Stream not found\n", 404, "Stream not found"},
		{"polar text", "Invalid topic", 400, "Invalid topic"},
		{"empty", "", 503, "Service Unavailable"},
		{"json without error key", `{"x":1}`, 500, `{"x":1}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := errorMessage(&http.Response{StatusCode: c.status}, []byte(c.body))
			if got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestPollValue(t *testing.T) {
	cases := map[string]string{
		`{"a":1}`:        `{"a":1}`,
		`"plain text"`:   "plain text",
		`42`:             "42",
		`"a\"b\\c\n"`:    "a\"b\\c\n",
		`[1, 2]`:         "[1, 2]",
		`"\ufffd\ufffd"`: "\ufffd\ufffd",
	}
	for raw, want := range cases {
		if got := pollValue(json.RawMessage(raw)); got != want {
			t.Errorf("pollValue(%s) = %q, want %q", raw, got, want)
		}
	}
}

func TestEventPrinter(t *testing.T) {
	e := ConsumedEvent{Topic: "t", Partition: 2, Offset: 7, Timestamp: 1700000000123456, Key: "k", Headers: map[string]string{"h": "v"}, Value: "hello"}
	cases := []struct{ format, want string }{
		{"", "hello\n"},
		{"json", `{"topic":"t","partition":2,"offset":7,"timestamp":1700000000123456,"key":"k","headers":{"h":"v"},"value":"hello"}` + "\n"},
		{"{{.Partition}}:{{.Offset}} {{.Key}}={{.Value}}", "2:7 k=hello\n"},
		{`{{.Value}}\t{{index .Headers "h"}}\n`, "hello\tv\n"},
		{`{{.Time.Format "2006-01-02T15:04:05.000Z07:00"}}`, "2023-11-14T22:13:20.123Z\n"},
	}
	for _, c := range cases {
		var buf bytes.Buffer
		p, err := newEventPrinter(&buf, c.format)
		if err != nil {
			t.Fatalf("%q: %v", c.format, err)
		}
		if err := p(e); err != nil {
			t.Fatalf("%q: %v", c.format, err)
		}
		if buf.String() != c.want {
			t.Errorf("format %q: got %q, want %q", c.format, buf.String(), c.want)
		}
	}
	if _, err := newEventPrinter(&bytes.Buffer{}, "{{.Nope"); err == nil {
		t.Error("a broken template must be a usage error")
	}
}

func TestPayloadIsExactSizeJSON(t *testing.T) {
	now := time.Unix(1700000000, 5)
	for _, size := range []int{benchMinSize, 100, 1024, 65536} {
		p := payload(size, now, 3, 123456)
		if len(p) != size {
			t.Fatalf("size %d: got %d bytes", size, len(p))
		}
		var v struct {
			T int64 `json:"t"`
			C int   `json:"c"`
			S int   `json:"s"`
		}
		if err := json.Unmarshal(p, &v); err != nil {
			t.Fatalf("size %d: not JSON: %v", size, err)
		}
		if v.T != now.UnixNano() || v.C != 3 || v.S != 123456 {
			t.Fatalf("size %d: decoded %+v", size, v)
		}
		if bytes.ContainsAny(p, "\r\n") {
			t.Fatalf("size %d: payload must be one NDJSON line", size)
		}
	}
}

func TestSummarizePercentiles(t *testing.T) {
	var s []time.Duration
	// 1..1000 ms in a scrambled order: nearest-rank percentiles are exact.
	for i := 0; i < 1000; i++ {
		s = append(s, time.Duration((i*7919)%1000+1)*time.Millisecond)
	}
	got := summarize(s)
	want := LatencySummary{Count: 1000, Min: 1, P50: 500, P90: 900, P99: 990, P999: 999, Max: 1000, Mean: 500.5}
	if got != want {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if one := summarize([]time.Duration{3 * time.Millisecond}); one.P50 != 3 || one.P999 != 3 || one.Max != 3 {
		t.Fatalf("one sample: %+v", one)
	}
	if empty := summarize(nil); empty != (LatencySummary{}) {
		t.Fatalf("no samples: %+v", empty)
	}
}

func TestHumanBytes(t *testing.T) {
	cases := map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB"}
	for n, want := range cases {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestReadBody reads answers with a Content-Length into one buffer of that
// size, chunked answers whole, and reports an answer cut short.
func TestReadBody(t *testing.T) {
	for _, tc := range []struct {
		name   string
		length int64 // -1: chunked
		body   string
		cut    bool
	}{
		{"sized", 11, "hello world", false},
		{"empty", 0, "", false},
		{"chunked", -1, strings.Repeat("x", 70000), false},
		{"cut short", 20, "only ten b", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := &http.Response{ContentLength: tc.length, Body: io.NopCloser(strings.NewReader(tc.body))}
			got, err := readBody(resp)
			if tc.cut {
				if err == nil {
					t.Fatalf("no error for an answer shorter than its Content-Length (got %q)", got)
				}
				return
			}
			if err != nil || string(got) != tc.body {
				t.Fatalf("got %q, %v; want %q", got, err, tc.body)
			}
			if tc.length >= 0 && int64(cap(got)) != tc.length {
				t.Fatalf("buffer of %d bytes for a %d-byte answer", cap(got), tc.length)
			}
		})
	}
}
