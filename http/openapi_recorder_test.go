package http_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestContractRecorderCatchesDrift serves handlers that disagree with the
// document through the harness's recording middleware and checks each
// disagreement is reported, and that agreeing or unvalidatable exchanges
// are not: the harness's validation of every conformance test is only
// worth something if it can fail.
func TestContractRecorderCatchesDrift(t *testing.T) {
	big := strings.Repeat("x", contractBodyCap+1)
	cases := []struct {
		name, method, path, body string
		handler                  http.HandlerFunc
		want                     string // "" = no failure
	}{
		{"documented answer", "GET", "/ping", "", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "pong")
		}, ""},
		{"any method on a process route", "POST", "/ready", "", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			io.WriteString(w, "OK")
		}, ""},
		{"undocumented status", "GET", "/v1/brokers", "", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusTeapot)
		}, "status is not supported"},
		{"undocumented content type", "GET", "/ping", "", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `"pong"`)
		}, "application/json"},
		{"sniffed content type", "GET", "/ping", "", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "<html>pong</html>")
		}, "text/html"},
		{"body off schema", "GET", "/v1/brokers", "", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"length":1}`)
		}, "doesn't match schema"},
		{"no body where the document says none", "POST", "/v1/consumer/commit?consumerId=c", "", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusNoContent)
		}, ""},
		{"required header missing", "POST", "/v1/consumer/commit?consumerId=c", "", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusNoContent)
		}, `"Retry-After" missing`},
		{"body where the document says none", "POST", "/v3/namespaces/default/streams/s/truncate", "", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "truncated")
		}, "where the document says none"},
		{"content type on an empty answer", "POST", "/v3/namespaces/default/streams/s/truncate", "", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
		}, "lists no content"},
		{"a 204 drops the body on the wire", "DELETE", "/weir/v1/namespaces/ops", "", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
			io.WriteString(w, "dropped by net/http")
		}, ""},
		{"PolarStreams error text with a newline", "POST", "/v1/consumer/commit?consumerId=x", "", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusConflict)
			io.WriteString(w, "Consumer not registered\n")
		}, "doesn't match schema"},
		{"undocumented route answered", "GET", "/v9/thing/x/y", "", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "ok")
		}, "not in the OpenAPI document"},
		{"undocumented route refused", "GET", "/v9/thing/x/y", "", func(w http.ResponseWriter, r *http.Request) {
			http.NotFound(w, r)
		}, ""},
		{"request off schema", "POST", "/weir/v1/namespaces", `{"name":"n","bogus":1}`, func(w http.ResponseWriter, r *http.Request) {
			io.ReadAll(r.Body)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, `{"name":"n","description":""}`)
		}, "request does not match"},
		{"huge body: content type still checked", "GET", "/metrics", "", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/octet-stream")
			io.WriteString(w, big)
		}, "content type"},
		{"huge body of the documented type", "GET", "/metrics", "", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			io.WriteString(w, big)
		}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := newContractRecorder()
			rec.local = true
			srv := httptest.NewServer(rec.wrap(tc.handler))
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			srv.Close()
			rec.wait()
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if rec.exchanges != 1 {
				t.Fatalf("%d exchanges recorded, want 1", rec.exchanges)
			}
			got := strings.Join(rec.failures, "\n")
			switch {
			case tc.want == "" && got != "":
				t.Errorf("unexpected failure: %s", got)
			case tc.want != "" && !strings.Contains(got, tc.want):
				t.Errorf("failures %q, want one mentioning %q", got, tc.want)
			case tc.want != "" && !strings.Contains(got, tc.method+" "+tc.path):
				t.Errorf("failure %q does not name the exchange", got)
			}
		})
	}
}
