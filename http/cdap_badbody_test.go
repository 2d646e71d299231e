package http_test

import (
	"strings"
	"testing"
)

// TestCDAPUnreadableBodyIs400: a body that cannot be read (bad chunked
// framing, shorter than its Content-Length) is the client's mistake on
// every CDAP route that reads one: 400, never 500 or 503 (spec 10a), and
// nothing is stored.
func TestCDAPUnreadableBodyIs400(t *testing.T) {
	ts := startServer(t, nil)
	base := ts.URL
	if r := pRawHTTP(t, base, "PUT /v3/namespaces/default/streams/s HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"); r.status != 200 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	routes := []struct{ method, path, ct string }{
		{"POST", "/v3/namespaces/default/streams/s", ""},
		{"POST", "/v3/namespaces/default/streams/s/async", ""},
		{"POST", "/v3/namespaces/default/streams/s/batch", "Content-Type: text/plain\r\n"},
		{"PUT", "/v3/namespaces/default/streams/s/properties", ""},
		{"PUT", "/v3/namespaces/nsbad", ""},
	}
	bodies := []struct{ name, headers, body string }{
		{"bad chunk size", "Transfer-Encoding: chunked\r\n", "ZZ\r\nab\n\r\n0\r\n\r\n"},
		{"chunk without CRLF", "Transfer-Encoding: chunked\r\n", "3\r\nabcXY0\r\n\r\n"},
		{"shorter than Content-Length", "Content-Length: 10\r\n", "ab\n"},
	}
	for _, rt := range routes {
		for _, b := range bodies {
			t.Run(rt.method+" "+rt.path+" "+b.name, func(t *testing.T) {
				raw := rt.method + " " + rt.path + " HTTP/1.1\r\nHost: x\r\n" + rt.ct + b.headers + "\r\n" + b.body
				r := rawHTTP(t, base, raw, true)
				if r.status != 400 || !strings.Contains(string(r.body), "reading the request body") {
					t.Fatalf("%d %q, want 400 naming the unreadable body", r.status, r.body)
				}
			})
		}
	}
	if r := pRawHTTP(t, base, "GET /v3/namespaces/default/streams/s/events HTTP/1.1\r\nHost: x\r\n\r\n"); r.status != 204 {
		t.Fatalf("events after refused bodies: %d %s", r.status, r.body)
	}
	if r := pRawHTTP(t, base, "GET /v3/namespaces/nsbad HTTP/1.1\r\nHost: x\r\n\r\n"); r.status != 404 {
		t.Fatalf("namespace from a refused body: %d %s", r.status, r.body)
	}
}
