package http_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// Fixtures of spec/benthos-streams.md §4.
const (
	fixtureG = "input:\n  generate:\n    interval: 50ms\n    mapping: 'root = {\"n\":counter()}'\n" +
		"pipeline:\n  processors:\n    - mapping: 'root.doubled = this.n * 2'\noutput:\n  drop: {}\n"
	fixtureF3 = "input:\n  generate:\n    count: 3\n    interval: \"\"\n    mapping: 'root = {\"n\":counter()}'\n" +
		"pipeline:\n  processors:\n    - mapping: 'root.doubled = this.n * 2'\noutput:\n  drop: {}\n"
	fixtureStuck = "input:\n  generate:\n    interval: 200ms\n    mapping: root = \"x\"\n" +
		"output:\n  socket:\n    network: tcp\n    address: 127.0.0.1:1\n"
	case15Text = "Error: failed to init input <no label> path root.input: failed to parse mapping: line 1 char 8: expected query"
)

// yamlValue decodes a YAML fixture into the plain value GET echoes.
func yamlValue(t testing.TB, s string) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

type apiResp struct {
	code   int
	body   string
	header http.Header
	took   time.Duration
}

// call sends one request over loopback and reads the whole answer.
func call(t testing.TB, method, url, body string) apiResp {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return apiResp{code: res.StatusCode, body: string(b), header: res.Header, took: time.Since(start)}
}

func wantE200(t testing.TB, r apiResp) {
	t.Helper()
	if r.code != 200 || r.body != "" || r.header.Get("Content-Length") != "0" || r.header.Get("Content-Type") != "" {
		t.Fatalf("want E200, got %d %q headers %v", r.code, r.body, r.header)
	}
}

func wantText(t testing.TB, r apiResp, code int, msg string) {
	t.Helper()
	if r.code != code || r.body != msg+"\n" {
		t.Fatalf("want %d %q, got %d %q", code, msg+"\n", r.code, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Fatalf("content type %q", ct)
	}
	if r.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("no nosniff header: %v", r.header)
	}
}

func wantLint(t testing.TB, r apiResp, lints []string) {
	t.Helper()
	if r.code != 400 || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("want 400 lint JSON, got %d %q (%s)", r.code, r.body, r.header.Get("Content-Type"))
	}
	var got map[string][]string
	if err := json.Unmarshal([]byte(r.body), &got); err != nil {
		t.Fatalf("lint body %q: %v", r.body, err)
	}
	if len(got) != 2 || !reflect.DeepEqual(got["lint_errors"], lints) || !reflect.DeepEqual(got["linting_errors"], lints) {
		t.Fatalf("lints = %s, want %q", r.body, lints)
	}
}

func lintEntries(t testing.TB, r apiResp) []string {
	t.Helper()
	if r.code != 400 {
		t.Fatalf("want 400 lint, got %d %q", r.code, r.body)
	}
	var got map[string][]string
	if err := json.Unmarshal([]byte(r.body), &got); err != nil {
		t.Fatalf("lint body %q: %v", r.body, err)
	}
	if !reflect.DeepEqual(got["lint_errors"], got["linting_errors"]) {
		t.Fatalf("lint keys differ: %s", r.body)
	}
	return got["lint_errors"]
}

type streamInfo struct {
	Active    bool    `json:"active"`
	Uptime    float64 `json:"uptime"`
	UptimeStr string  `json:"uptime_str"`
	Config    any     `json:"config"`
	State     string  `json:"state"`
	LastError string  `json:"last_error"`
}

func getStream(t testing.TB, base, id string) streamInfo {
	t.Helper()
	r := call(t, "GET", base+"/streams/"+id, "")
	if r.code != 200 || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s: %d %q", id, r.code, r.body)
	}
	var si streamInfo
	if err := json.Unmarshal([]byte(r.body), &si); err != nil {
		t.Fatal(err)
	}
	return si
}

func listStreams(t testing.TB, base string) map[string]map[string]any {
	t.Helper()
	r := call(t, "GET", base+"/streams", "")
	if r.code != 200 || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /streams: %d %q", r.code, r.body)
	}
	var m map[string]map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func fileLines(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

// unsetEnv removes a variable for the rest of the test (t.Setenv restores it).
func unsetEnv(t testing.TB, name string) {
	t.Helper()
	if err := os.Unsetenv(name); err != nil {
		t.Fatal(err)
	}
}
