package http_test

import (
	"testing"
)

// TestStreamsEdgeCases pins answers beyond the §4 checklist to what Benthos
// v4.27.0 streams mode returns for the same request (observed on the real
// binary); each row is one request on one server, in order.
func TestStreamsEdgeCases(t *testing.T) {
	ts := startServer(t, nil)
	u := ts.URL
	const gen = "input:\n  generate:\n    interval: 1s\n    mapping: root = 1\noutput:\n  drop: {}\n"
	cases := []struct {
		name, method, path, body string
		code                     int
		text                     string // T(text); "" with code 200 means E200
		raw                      string // exact body when not T()
	}{
		// Benthos's router matches the decoded path: %2F separates
		// segments, other escapes belong to the id.
		{"encoded slash is a separator", "POST", "/streams/a%2Fb", gen, 404, "404 page not found", ""},
		{"encoded slash get", "GET", "/streams/a%2Fb", "", 404, "404 page not found", ""},
		{"encoded slash before stats", "GET", "/streams/nope%2Fstats", "", 404, "Stream not found", ""},
		{"encoded space is part of the id", "POST", "/streams/a%20b", gen, 200, "", ""},
		{"space id readable", "GET", "/streams/a%20b/stats", "", 200, "", "*"},
		{"space id deletable", "DELETE", "/streams/a%20b", "", 200, "", ""},
		// Process routes answer every method, as in Benthos.
		{"POST ping", "POST", "/ping", "", 200, "", "pong"},
		{"PUT ready", "PUT", "/ready", "", 200, "", "OK"},
		{"HEAD ready", "HEAD", "/ready", "", 200, "", ""},
		// A resource that fails to construct reads as Benthos reports it,
		// without the holder's label or hook path.
		{"cache build error", "POST", "/resources/cache/c1?chilled=true", "label: c1\nmemory: {default_ttl: nope}", 502,
			`Error: failed to init cache <no label> path root.cache_resources: failed to parse 'default_ttl' as a duration string: time: invalid duration "nope"`, ""},
		{"rate_limit build error", "POST", "/resources/rate_limit/r1?chilled=true", "local: {count: 10, interval: bogus}", 502,
			`Error: failed to init rate_limit <no label> path root.rate_limit_resources: failed to parse 'interval' as a duration string: time: invalid duration "bogus"`, ""},
		{"input build error", "POST", "/resources/input/i1?chilled=true", `generate: {mapping: "root = "}`, 502,
			"Error: failed to init input <no label> path root.input_resources: failed to parse mapping: line 1 char 8: expected query", ""},
		{"output build error", "POST", "/resources/output/o1?chilled=true", "file: {path: /tmp/x, codec: nope}", 502,
			"Error: failed to init output <no label> path root.output_resources: codec was not recognised: nope", ""},
		{"processor build error", "POST", "/resources/processor/p1?chilled=true", `mapping: "root = "`, 502,
			"Error: failed to init processor <no label> path root.processor_resources: failed to parse bloblang mapping '': expected query, but reached end of input", ""},
		// POST /streams parse errors count lines from the start of the body.
		{"set parse error position", "POST", "/streams?chilled=true",
			"a:\n  input:\n    generate:\n      interval: 1s\n      mapping: root = 1\n  output:\n    drop: {}\nb:\n  input:\n    not_real: {}\n  output:\n    drop: {}\n",
			400, "Error: (10,1) unable to infer input type from candidates: [not_real]", ""},
		{"set unchanged", "GET", "/streams", "", 200, "", "{}"},
	}
	for _, c := range cases {
		r := call(t, c.method, u+c.path, c.body)
		switch {
		case c.text != "":
			if r.code != c.code || r.body != c.text+"\n" || r.header.Get("Content-Type") != "text/plain; charset=utf-8" ||
				r.header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("%s: %d %q %v, want T(%d %q)", c.name, r.code, r.body, r.header, c.code, c.text)
			}
		case c.raw == "*":
			if r.code != c.code {
				t.Errorf("%s: %d %q, want %d", c.name, r.code, r.body, c.code)
			}
		case c.raw != "" || c.method == "HEAD":
			if r.code != c.code || r.body != c.raw {
				t.Errorf("%s: %d %q, want %d %q", c.name, r.code, r.body, c.code, c.raw)
			}
		default:
			if r.code != 200 || r.body != "" || r.header.Get("Content-Length") != "0" {
				t.Errorf("%s: want E200, got %d %q", c.name, r.code, r.body)
			}
		}
	}
}
