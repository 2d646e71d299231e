package http_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/ocf"

	"github.com/weirflow/weir/config"
	api "github.com/weirflow/weir/http"
)

// The numbered tests below are the conformance checklist of
// spec/cdap-streams.md §12, each against the real handler and the real
// engine over loopback HTTP, on a fresh data directory.

const D = "/v3/namespaces/default"

// cdapClient issues requests and checks answers.
type cdapClient struct {
	t    testing.TB
	base string
	hc   *http.Client
}

type reply struct {
	status int
	header http.Header
	body   string
}

func newClient(t testing.TB, ts *testServer) *cdapClient {
	return &cdapClient{t: t, base: ts.URL, hc: &http.Client{
		Timeout:       60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// do sends a request; hdr is name, value pairs set verbatim (no
// canonicalisation, so repeated and differently cased names reach the wire).
func (c *cdapClient) do(method, path string, body io.Reader, hdr ...string) reply {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if s, ok := body.(interface{ Len() int }); ok && body != nil {
		req.ContentLength = int64(s.Len())
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header[hdr[i]] = append(req.Header[hdr[i]], hdr[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: read: %v", method, path, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func (c *cdapClient) get(path string) reply { c.t.Helper(); return c.do("GET", path, nil) }

func (c *cdapClient) put(path, body string) reply {
	c.t.Helper()
	return c.do("PUT", path, strings.NewReader(body))
}

func (c *cdapClient) post(path, body string, hdr ...string) reply {
	c.t.Helper()
	return c.do("POST", path, strings.NewReader(body), hdr...)
}

// expect checks status and exact body; for 4xx also the text content type.
func (c *cdapClient) expect(r reply, status int, body string) {
	c.t.Helper()
	if r.status != status || r.body != body {
		c.t.Fatalf("got %d %q, want %d %q", r.status, r.body, status, body)
	}
	if status >= 400 && body != "" {
		if ct := r.header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
			c.t.Fatalf("error Content-Type %q", ct)
		}
	}
}

func (c *cdapClient) expectStatus(r reply, status int) {
	c.t.Helper()
	if r.status != status {
		c.t.Fatalf("got %d %q, want %d", r.status, r.body, status)
	}
}

// ok checks a 200 with an empty body and no Content-Type.
func (c *cdapClient) ok(r reply) {
	c.t.Helper()
	c.expect(r, 200, "")
}

type event struct {
	Timestamp int64             `json:"timestamp"`
	Headers   map[string]string `json:"headers"`
	Body      string            `json:"body"`
	Record    json.RawMessage   `json:"record"`
	Error     string            `json:"error"`
}

// events reads path (an events URL) expecting 200 and decodes the array;
// a 204 gives nil.
func (c *cdapClient) events(path string) []event {
	c.t.Helper()
	r := c.get(path)
	if r.status == 204 {
		if r.body != "" {
			c.t.Fatalf("204 with body %q", r.body)
		}
		return nil
	}
	if r.status != 200 {
		c.t.Fatalf("GET %s: %d %q", path, r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		c.t.Fatalf("events Content-Type %q", ct)
	}
	var evs []event
	if err := json.Unmarshal([]byte(r.body), &evs); err != nil {
		c.t.Fatalf("events JSON: %v in %q", err, r.body)
	}
	if len(evs) == 0 {
		c.t.Fatal("200 with an empty array")
	}
	return evs
}

func bodies(evs []event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Body
	}
	return out
}

func (c *cdapClient) expectBodies(path string, want ...string) []event {
	c.t.Helper()
	evs := c.events(path)
	if got := bodies(evs); fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) && !(len(got) == 0 && len(want) == 0) {
		c.t.Fatalf("GET %s: bodies %q, want %q", path, got, want)
	}
	return evs
}

func (c *cdapClient) jsonEq(r reply, want string) {
	c.t.Helper()
	if r.status != 200 {
		c.t.Fatalf("got %d %q, want 200", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		c.t.Fatalf("Content-Type %q", ct)
	}
	var got, exp any
	if err := json.Unmarshal([]byte(r.body), &got); err != nil {
		c.t.Fatalf("answer is not JSON: %q", r.body)
	}
	if err := json.Unmarshal([]byte(want), &exp); err != nil {
		c.t.Fatalf("bad expectation %q", want)
	}
	gb, _ := json.Marshal(got)
	eb, _ := json.Marshal(exp)
	if !bytes.Equal(gb, eb) {
		c.t.Fatalf("got  %s\nwant %s", gb, eb)
	}
}

// settle waits past the current millisecond so an event just sent is inside
// a read's `end = now` (spec §7: tests read ≥ 1 ms after the last send).
func settle() { time.Sleep(3 * time.Millisecond) }

func fresh(t *testing.T) (*testServer, *cdapClient) {
	ts := startServer(t, nil)
	return ts, newClient(t, ts)
}

func withS(t *testing.T) (*testServer, *cdapClient) {
	ts, c := fresh(t)
	c.ok(c.put(D+"/streams/s", ""))
	return ts, c
}

const EV = D + "/streams/s/events"

// --- Namespaces ---

func TestCDAP01ListNamespaces(t *testing.T) {
	_, c := fresh(t)
	r := c.get("/v3/namespaces")
	var list []map[string]string
	if err := json.Unmarshal([]byte(r.body), &list); err != nil || r.status != 200 {
		t.Fatalf("%d %q", r.status, r.body)
	}
	found := false
	for _, n := range list {
		if n["name"] == "default" && n["description"] == "Default Namespace" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no default namespace in %s", r.body)
	}
}

func TestCDAP02CreateNamespace(t *testing.T) {
	_, c := fresh(t)
	c.expect(c.put("/v3/namespaces/ns1", ""), 200, "Namespace 'ns1' created successfully.")
	c.expect(c.put("/v3/namespaces/ns1", ""), 200, "Namespace 'ns1' already exists.")
	c.expect(c.put("/v3/namespaces/default", ""), 200, "Namespace 'default' already exists.")
}

func TestCDAP03NamespaceDescription(t *testing.T) {
	_, c := fresh(t)
	c.expectStatus(c.put("/v3/namespaces/ns2", `{"description":"x"}`), 200)
	c.jsonEq(c.get("/v3/namespaces/ns2"), `{"name":"ns2","description":"x"}`)
	c.expectStatus(c.put("/v3/namespaces/ns2", `{"description":"y"}`), 200)
	c.jsonEq(c.get("/v3/namespaces/ns2"), `{"name":"ns2","description":"x"}`)
}

func TestCDAP04NamespaceCreateErrors(t *testing.T) {
	_, c := fresh(t)
	c.expect(c.put("/v3/namespaces/my-ns", ""), 400, "Namespace id can contain only alphanumeric characters or '_'.")
	c.expect(c.put("/v3/namespaces/system", ""), 400, "Cannot create the namespace 'system'. 'system' is a reserved namespace.")
	c.expect(c.put("/v3/namespaces/cdap", ""), 400, "Cannot create the namespace 'cdap'. 'cdap' is a reserved namespace.")
	c.expect(c.put("/v3/namespaces/nsx", "{bad"), 400, "Invalid json object provided in request body.")
	c.expect(c.put("/v3/namespaces/nsx", "[1]"), 400, "Invalid json object provided in request body.")
	c.expectStatus(c.get("/v3/namespaces/nsx"), 404)
}

func TestCDAP05NamespaceNotFound(t *testing.T) {
	_, c := fresh(t)
	c.expect(c.get("/v3/namespaces/nope"), 404, "'namespace:nope' was not found.")
	c.expect(c.do("DELETE", "/v3/namespaces/nope", nil), 404, "'namespace:nope' was not found.")
	c.expect(c.get("/v3/namespaces/bad-ns"), 400, "Invalid namespace ID: bad-ns. Should only contain alphanumeric characters or _.")
}

func TestCDAP06DeleteDefault(t *testing.T) {
	_, c := fresh(t)
	c.expect(c.do("DELETE", "/v3/namespaces/default", nil), 403, "Namespace 'default' cannot be deleted.")
	c.jsonEq(c.get("/v3/namespaces/default"), `{"name":"default","description":"Default Namespace"}`)
}

func TestCDAP07DeleteNamespaceWithStreams(t *testing.T) {
	_, c := fresh(t)
	const N = "/v3/namespaces/ns1"
	c.expectStatus(c.put(N, ""), 200)
	c.ok(c.put(N+"/streams/s", ""))
	c.ok(c.post(N+"/streams/s", "e1"))
	c.ok(c.do("DELETE", N, nil))
	c.expect(c.get(N), 404, "'namespace:ns1' was not found.")
	c.expect(c.get(N+"/streams"), 404, "'namespace:ns1' was not found.")
	c.expectStatus(c.put(N, ""), 200)
	c.ok(c.put(N+"/streams/s", ""))
	c.expectBodies(N + "/streams/s/events")
}

// --- List, create, properties ---

func TestCDAP08ListStreams(t *testing.T) {
	_, c := fresh(t)
	c.jsonEq(c.get(D+"/streams"), `[]`)
	c.ok(c.put(D+"/streams/stream1", ""))
	c.jsonEq(c.get(D+"/streams"), `[{"name":"stream1"}]`)
	c.ok(c.put(D+"/streams/stream2", ""))
	c.jsonEq(c.get(D+"/streams"), `[{"name":"stream1"},{"name":"stream2"}]`)
}

func TestCDAP09ListStreamsErrors(t *testing.T) {
	_, c := fresh(t)
	c.expect(c.get("/v3/namespaces/notfound/streams"), 404, "'namespace:notfound' was not found.")
	c.expectStatus(c.get("/v3/namespaces/bad-ns/streams"), 400)
}

func TestCDAP10StreamIDs(t *testing.T) {
	_, c := fresh(t)
	c.expectStatus(c.put(D+"/streams/inv@lidStreamName", ""), 400)
	c.expect(c.put(D+"/streams/inv%40lid", ""), 400, "Invalid stream ID: inv@lid. Should only contain alphanumeric characters and _ or -.")
	c.ok(c.put(D+"/streams/a_b-C9", ""))
	long := strings.Repeat("a", 256)
	c.expectStatus(c.put(D+"/streams/"+long, ""), 400)
	c.ok(c.put(D+"/streams/"+long[:255], ""))
}

func TestCDAP11CreateInMissingNamespace(t *testing.T) {
	_, c := fresh(t)
	c.expect(c.put("/v3/namespaces/nons/streams/s", ""), 404, "'namespace:nons' was not found.")
	// The namespace is checked before the body.
	c.expect(c.put("/v3/namespaces/nons/streams/s", "{bad"), 404, "'namespace:nons' was not found.")
	c.expectStatus(c.put("/v3/namespaces/nons", ""), 200)
	c.ok(c.put("/v3/namespaces/nons/streams/s", ""))
}

func TestCDAP12MissingStream(t *testing.T) {
	_, c := fresh(t)
	c.expect(c.get(D+"/streams/s"), 404, "'stream:default.s' was not found.")
	c.expect(c.post(D+"/streams/s", "x"), 404, "'stream:default.s' was not found.")
	c.ok(c.put(D+"/streams/s", ""))
	c.expectStatus(c.get(D+"/streams/s"), 200)
}

const defaultProps = `{"ttl":9223372036854775,"format":{"name":"text","schema":{"type":"record","name":"stringBody","fields":[{"name":"body","type":"string"}]},"settings":{}},"notification.threshold.mb":1024}`

func TestCDAP13DefaultProperties(t *testing.T) {
	_, c := withS(t)
	c.jsonEq(c.get(D+"/streams/s"), defaultProps)
}

func TestCDAP14CreateWithProperties(t *testing.T) {
	_, c := fresh(t)
	p := `{"ttl":1,"format":{"name":"co.cask.cdap.format.TextRecordFormat","schema":{"type":"record","name":"event","fields":[{"name":"purchase","type":"string"}]},"settings":{"charset":"utf8"}},"notification.threshold.mb":128,"description":"large stream"}`
	c.ok(c.put(D+"/streams/s", p))
	c.jsonEq(c.get(D+"/streams/s"), p)
}

func TestCDAP15PartialUpdate(t *testing.T) {
	_, c := fresh(t)
	fmtSpec := `{"name":"co.cask.cdap.format.TextRecordFormat","schema":{"type":"record","name":"event","fields":[{"name":"purchase","type":"string"}]},"settings":{"charset":"utf8"}}`
	c.ok(c.put(D+"/streams/s", `{"ttl":1,"format":`+fmtSpec+`,"notification.threshold.mb":128,"description":"large stream"}`))
	c.ok(c.put(D+"/streams/s/properties", `{"ttl":2,"description":"small stream"}`))
	c.jsonEq(c.get(D+"/streams/s"), `{"ttl":2,"format":`+fmtSpec+`,"notification.threshold.mb":128,"description":"small stream"}`)
}

func TestCDAP16UpdateDescriptionOnly(t *testing.T) {
	_, c := fresh(t)
	c.ok(c.put(D+"/streams/s", `{"ttl":10,"notification.threshold.mb":300,"description":"Good Stream"}`))
	c.ok(c.put(D+"/streams/s/properties", `{"description":"New Description"}`))
	fmtSpec := `{"name":"text","schema":{"type":"record","name":"stringBody","fields":[{"name":"body","type":"string"}]},"settings":{}}`
	c.jsonEq(c.get(D+"/streams/s"), `{"ttl":10,"format":`+fmtSpec+`,"notification.threshold.mb":300,"description":"New Description"}`)
	c.ok(c.put(D+"/streams/s/properties", `{"description":""}`))
	c.jsonEq(c.get(D+"/streams/s"), `{"ttl":10,"format":`+fmtSpec+`,"notification.threshold.mb":300,"description":""}`)
}

func ttlOf(c *cdapClient, stream string) int64 {
	c.t.Helper()
	r := c.get(D + "/streams/" + stream)
	var p struct {
		TTL int64 `json:"ttl"`
	}
	if r.status != 200 || json.Unmarshal([]byte(r.body), &p) != nil {
		c.t.Fatalf("GET %s: %d %q", stream, r.status, r.body)
	}
	return p.TTL
}

func TestCDAP17IdempotentCreate(t *testing.T) {
	_, c := fresh(t)
	c.ok(c.put(D+"/streams/s", `{"ttl":10}`))
	c.ok(c.put(D+"/streams/s", `{"ttl":20}`))
	if ttl := ttlOf(c, "s"); ttl != 10 {
		t.Fatalf("ttl %d, want 10", ttl)
	}
	c.expect(c.put(D+"/streams/s", `{"ttl":-1}`), 400, "Invalid TTL -1000. TTL value should be positive.")
	c.expectStatus(c.put(D+"/streams/s", `   `), 400)
	c.expectStatus(c.put(D+"/streams/s", `null`), 400)
}

func TestCDAP18DefaultTextFormat(t *testing.T) {
	_, c := withS(t)
	c.ok(c.put(D+"/streams/s/properties", `{"ttl":2,"format":{"name":"text"},"notification.threshold.mb":20}`))
	c.jsonEq(c.get(D+"/streams/s"), `{"ttl":2,"format":{"name":"text","schema":{"type":"record","name":"stringBody","fields":[{"name":"body","type":"string"}]},"settings":{}},"notification.threshold.mb":20}`)
}

func TestCDAP19PropertiesErrors(t *testing.T) {
	_, c := withS(t)
	const P = D + "/streams/s/properties"
	r := c.put(P, `ttl:2`)
	if r.status != 400 || !strings.HasPrefix(r.body, "Invalid stream configuration. Please check that the configuration is a valid JSON Object with a valid schema. Cause: ") {
		t.Fatalf("%d %q", r.status, r.body)
	}
	c.expect(c.put(P, `{"ttl":-1}`), 400, "Invalid TTL -1000. TTL value should be positive.")
	c.expect(c.put(P, `{"format":{"settings":{}}}`), 400, "A format name must be specified.")
	c.expect(c.put(P, `{"format":{"name":"gibberish"}}`), 400, "Invalid format, unable to instantiate format gibberish")
	c.expect(c.put(P, `{"format":{"name":"text","schema":{"type":"record","name":"r","fields":[{"name":"d","type":"double"}]}}}`), 400, "Format text does not support the requested schema.")
	c.expect(c.put(P, `{"notification.threshold.mb":-20}`), 400, "Invalid threshold -20. Threshold value should be greater than zero.")
	c.jsonEq(c.get(D+"/streams/s"), defaultProps)
}

func TestCDAP20PropertiesBodies(t *testing.T) {
	_, c := withS(t)
	const P = D + "/streams/s/properties"
	for _, b := range []string{``, `null`, `   `, `{"ttl":null}`, `{"ttl":1.5}`, `{"ttl":"abc"}`, `{"notification.threshold.mb":0}`} {
		c.expectStatus(c.put(P, b), 400)
	}
	c.ok(c.put(P, `{}`))
	c.jsonEq(c.get(D+"/streams/s"), defaultProps)
}

func TestCDAP21LenientJSON(t *testing.T) {
	_, c := withS(t)
	const P = D + "/streams/s/properties"
	c.ok(c.put(P, `{'notification.threshold.mb': 1}`))
	r := c.get(D + "/streams/s")
	if !strings.Contains(r.body, `"notification.threshold.mb":1}`) {
		t.Fatalf("threshold not 1: %s", r.body)
	}
	c.ok(c.put(P, `{"ttl":"100"}`))
	if ttl := ttlOf(c, "s"); ttl != 100 {
		t.Fatalf("ttl %d", ttl)
	}
}

// TestCDAPIntegerText: ttl and threshold written as JSON strings are read
// as Java's parseLong reads them: a leading sign is accepted, spaces are not.
func TestCDAPIntegerText(t *testing.T) {
	_, c := withS(t)
	P := D + "/streams/s/properties"
	c.ok(c.put(P, `{"ttl":"+100"}`))
	if got := ttlOf(c, "s"); got != 100 {
		t.Fatalf("ttl %d", got)
	}
	for _, b := range []string{`{"ttl":" 7"}`, `{"ttl":"7 "}`, `{"notification.threshold.mb":" 1"}`} {
		r := c.put(P, b)
		if r.status != 400 || !strings.HasPrefix(r.body, "Invalid stream configuration.") {
			t.Fatalf("%s: %d %q", b, r.status, r.body)
		}
	}
	if got := ttlOf(c, "s"); got != 100 {
		t.Fatalf("ttl %d after refused updates", got)
	}
}

func TestCDAP22PropertiesOnMissing(t *testing.T) {
	_, c := fresh(t)
	c.expect(c.put(D+"/streams/s/properties", `{"ttl":1}`), 404, "'stream:default.s' was not found.")
	c.expectStatus(c.put(D+"/streams/inv@lid/properties", `{"ttl":1}`), 400)
	c.expectStatus(c.put("/v3/namespaces/bad-ns/streams/s/properties", `{"ttl":1}`), 400)
}

func TestCDAP23TTLSaturation(t *testing.T) {
	_, c := withS(t)
	c.ok(c.put(D+"/streams/s/properties", `{"ttl":9223372036854775807}`))
	if ttl := ttlOf(c, "s"); ttl != 9223372036854775 {
		t.Fatalf("ttl %d", ttl)
	}
	// Decode as a number token to be sure it is an integer, not a float.
	r := c.get(D + "/streams/s")
	if !strings.HasPrefix(r.body, `{"ttl":9223372036854775,`) {
		t.Fatalf("ttl rendering: %s", r.body)
	}
	c.ok(c.put(D+"/streams/s/properties", `{"ttl":86400}`))
	if ttl := ttlOf(c, "s"); ttl != 86400 {
		t.Fatalf("ttl %d", ttl)
	}
}

func formatOf(c *cdapClient, stream string) string {
	c.t.Helper()
	r := c.get(D + "/streams/" + stream)
	var p struct {
		Format json.RawMessage `json:"format"`
	}
	if r.status != 200 || json.Unmarshal([]byte(r.body), &p) != nil {
		c.t.Fatalf("GET %s: %d %q", stream, r.status, r.body)
	}
	var v any
	_ = json.Unmarshal(p.Format, &v)
	b, _ := json.Marshal(v)
	return string(b)
}

func canon(s string) string {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		panic(err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func TestCDAP24Formats(t *testing.T) {
	_, c := withS(t)
	const P = D + "/streams/s/properties"
	csv := `{"name":"CSV","schema":{"type":"record","name":"event","fields":[{"name":"f1","type":"string"},{"name":"f2","type":"int"},{"name":"f3","type":"double"}]},"settings":{"delimiter":" "}}`
	c.ok(c.put(P, `{"format":`+csv+`}`))
	if got := formatOf(c, "s"); got != canon(csv) {
		t.Fatalf("csv: %s", got)
	}
	c.ok(c.put(P, `{"format":{"name":"tsv"}}`))
	if got := formatOf(c, "s"); got != canon(`{"name":"tsv","schema":{"type":"record","name":"streamEvent","fields":[{"name":"body","type":{"type":"array","items":"string"}}]},"settings":{}}`) {
		t.Fatalf("tsv: %s", got)
	}
	c.expect(c.put(P, `{"format":{"name":"avro"}}`), 400, "Format avro does not support the requested schema.")
	c.ok(c.put(P, `{"format":{"name":"avro","schema":{"type":"record","name":"r","fields":[{"name":"a","type":"int"}]}}}`))
}

func TestCDAP25SchemaRules(t *testing.T) {
	_, c := withS(t)
	const P = D + "/streams/s/properties"
	rec := func(fields string) string { return `{"type":"record","name":"r","fields":[` + fields + `]}` }
	c.expectStatus(c.put(P, `{"format":{"name":"csv","schema":`+rec(`{"name":"m","type":{"type":"map","keys":"string","values":"string"}}`)+`}}`), 400)
	c.ok(c.put(P, `{"format":{"name":"csv","schema":`+rec(`{"name":"a","type":"int"},{"name":"rest","type":["null",{"type":"array","items":"string"}]}`)+`}}`))
	c.expectStatus(c.put(P, `{"format":{"name":"text","schema":`+rec(`{"name":"a","type":["string","null"]}`)+`}}`), 400)
	csv3 := rec(`{"name":"f1","type":"string"},{"name":"f2","type":"int"},{"name":"f3","type":"double"}`)
	c.expectStatus(c.put(P, `{"format":{"name":"csv","schema":`+csv3+`,"settings":{"mapping":"x:f1"}}}`), 400)
	c.ok(c.put(P, `{"format":{"name":"grok","settings":{"pattern":"%{NOPE"}}}`))
	c.expectStatus(c.put(P, `{"format":{"name":"text","schema":"{\"type\":\"record\"}"}}`), 400)
	c.ok(c.put(P, `{"format":{"name":"SysLog"}}`))
}

func TestCDAP26Principal(t *testing.T) {
	_, c := fresh(t)
	c.expect(c.put(D+"/streams/bad", `{"principal":"alice/bob/somehost@SOMEKDC.NET"}`), 400, "Malformed Kerberos name: alice/bob/somehost@SOMEKDC.NET")
	c.expectStatus(c.get(D+"/streams/bad"), 404)
	c.ok(c.put(D+"/streams/owned", `{"principal":"alice/somehost@SOMEKDC.NET"}`))
	r := c.get(D + "/streams/owned")
	if !strings.Contains(r.body, `"principal":"alice/somehost@SOMEKDC.NET"`) {
		t.Fatalf("principal not shown: %s", r.body)
	}
	const P = D + "/streams/owned/properties"
	c.expect(c.put(P, `{"ttl":1,"principal":"bob@SOMEKDC.NET"}`), 403, "STREAM 'owned' already exists and the specified principal 'bob@SOMEKDC.NET' is not the same as the existing one. The principal of an entity cannot be changed.")
	c.expect(c.put(P, `{"ttl":1}`), 403, "STREAM 'owned' already exists and the specified principal 'null' is not the same as the existing one. The principal of an entity cannot be changed.")
	c.ok(c.put(P, `{"ttl":1,"principal":"alice/somehost@SOMEKDC.NET"}`))
	if ttl := ttlOf(c, "owned"); ttl != 1 {
		t.Fatalf("ttl %d", ttl)
	}
}

func TestCDAP27PrincipalImmutable(t *testing.T) {
	_, c := fresh(t)
	c.ok(c.put(D+"/streams/noOwner", ""))
	if r := c.get(D + "/streams/noOwner"); strings.Contains(r.body, "principal") {
		t.Fatalf("principal shown: %s", r.body)
	}
	c.expectStatus(c.put(D+"/streams/noOwner/properties", `{"principal":"bob@SOMEKDC.NET"}`), 403)
	c.ok(c.put(D+"/streams/owned", `{"principal":"alice/somehost@SOMEKDC.NET"}`))
	c.expectStatus(c.put(D+"/streams/owned", ""), 403)
	c.ok(c.put(D+"/streams/owned", `{"principal":"alice/somehost@SOMEKDC.NET"}`))
}

// --- Send, headers, escaping ---

func TestCDAP28SendWithHeaders(t *testing.T) {
	_, c := fresh(t)
	const S = D + "/streams/test_stream_enqueue"
	c.ok(c.put(S, ""))
	for i := 0; i < 10; i++ {
		c.ok(c.post(S, fmt.Sprint(i), "test_stream_enqueue.header1", fmt.Sprint(i)))
	}
	settle()
	evs := c.events(S + "/events?limit=10")
	if len(evs) != 10 {
		t.Fatalf("%d events", len(evs))
	}
	for i, e := range evs {
		if e.Body != fmt.Sprint(i) || len(e.Headers) != 1 || e.Headers["header1"] != fmt.Sprint(i) {
			t.Fatalf("event %d: %+v", i, e)
		}
	}
}

func TestCDAP29HeaderCase(t *testing.T) {
	_, c := withS(t)
	c.ok(c.post(D+"/streams/s", "x", "S.Trace-ID", "x1", "s.lower", "y", "other.z", "1", "Content-Type", "text/plain"))
	settle()
	evs := c.events(EV)
	if len(evs) != 1 || fmt.Sprint(evs[0].Headers) != fmt.Sprint(map[string]string{"trace-id": "x1", "lower": "y"}) {
		t.Fatalf("%+v", evs)
	}
}

func TestCDAP30DuplicateHeaders(t *testing.T) {
	_, c := withS(t)
	c.expect(c.post(D+"/streams/s", "x", "s.h", "1", "S.H", "2"), 400, "Duplicate event header 'h'")
	c.expect(c.post(D+"/streams/s", "x", "s.h", "1", "s.h", "2"), 400, "Duplicate event header 'h'")
	c.expect(c.post(D+"/streams/s/async", "x", "s.h", "1", "s.h", "2"), 400, "Duplicate event header 'h'")
	// Existence is checked before headers.
	c.expectStatus(c.post(D+"/streams/nope", "x", "nope.h", "1", "nope.h", "2"), 404)
	settle()
	c.expectBodies(EV)
}

func TestCDAP31EmptyAndEscaping(t *testing.T) {
	_, c := withS(t)
	c.ok(c.post(D+"/streams/s", ""))
	c.ok(c.post(D+"/streams/s", string([]byte{0x00, 0x41, 0x7F, 0xFF})))
	c.ok(c.post(D+"/streams/s", string([]byte{0x68, 0xC3, 0xA9, 0x0A})))
	c.ok(c.post(D+"/streams/s", `a "b" <c>&='d' \ ~`))
	settle()
	c.expectBodies(EV, "", `\x00A\x7F\xFF`, `h\xC3\xA9\x0A`, `a "b" <c>&='d' \ ~`)
}

func TestCDAP32ManySends(t *testing.T) {
	_, c := withS(t)
	var ts []int64
	for i := 0; i < 5000; i++ {
		c.ok(c.post(D+"/streams/s", fmt.Sprintf("Testing %d", i)))
		if i < 3 {
			settle() // distinct milliseconds for the range check below
		}
	}
	settle()
	evs := c.events(EV + "?start=0&end=9223372036854775807&limit=2147483647")
	if len(evs) != 5000 {
		t.Fatalf("%d events", len(evs))
	}
	for i, e := range evs {
		if e.Body != fmt.Sprintf("Testing %d", i) {
			t.Fatalf("event %d: %q", i, e.Body)
		}
		ts = append(ts, e.Timestamp)
	}
	c.expectBodies(EV+"?limit=5", "Testing 0", "Testing 1", "Testing 2", "Testing 3", "Testing 4")
	got := c.events(fmt.Sprintf("%s?start=%d&end=%d", EV, ts[1], ts[2]+1))
	if len(got) < 2 || got[0].Body != "Testing 1" {
		t.Fatalf("range: %q", bodies(got))
	}
	for _, e := range got {
		if e.Timestamp < ts[1] || e.Timestamp > ts[2] {
			t.Fatalf("out of range: %+v", e)
		}
	}
}

func TestCDAP33NamespacesIsolated(t *testing.T) {
	_, c := fresh(t)
	c.expectStatus(c.put("/v3/namespaces/ns1", ""), 200)
	c.ok(c.put(D+"/streams/s", ""))
	c.ok(c.put("/v3/namespaces/ns1/streams/s", ""))
	var wantD, want1 []string
	for i := 0; i < 10; i++ {
		c.ok(c.post(D+"/streams/s", fmt.Sprint("d", i)))
		wantD = append(wantD, fmt.Sprint("d", i))
		if i < 5 {
			c.ok(c.post("/v3/namespaces/ns1/streams/s", fmt.Sprint("n", i)))
			want1 = append(want1, fmt.Sprint("n", i))
		}
	}
	settle()
	c.expectBodies(EV, wantD...)
	c.expectBodies("/v3/namespaces/ns1/streams/s/events", want1...)
}

func TestCDAP34Async(t *testing.T) {
	_, c := withS(t)
	var want []string
	for i := 0; i < 10; i++ {
		c.expect(c.post(D+"/streams/s/async", fmt.Sprint("a", i)), 202, "")
		want = append(want, fmt.Sprint("a", i))
	}
	var evs []event
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs = c.events(EV)
		if len(evs) == 10 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if fmt.Sprint(bodies(evs)) != fmt.Sprint(want) {
		t.Fatalf("async events %q", bodies(evs))
	}
	after := fmt.Sprintf("%s?start=%d", EV, evs[9].Timestamp+1)
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		c.expectStatus(c.get(after), 204)
	}
}

// Case 35 (send, kill -9, restart, the event is there) needs a killed
// process: it lives with the ops engineer's end-to-end tests in cmd/weir.

// --- Reading ---

func TestCDAP36EmptyReads(t *testing.T) {
	_, c := withS(t)
	c.expect(c.get(EV), 204, "")
	c.expect(c.get(D+"/streams/missing/events"), 404, "")
	c.expectStatus(c.get(D+"/streams/bad@id/events"), 400)
}

func TestCDAP37Boundaries(t *testing.T) {
	_, c := withS(t)
	c.ok(c.post(D+"/streams/s", "x"))
	settle()
	T := c.events(EV)[0].Timestamp
	c.expectBodies(fmt.Sprintf("%s?start=%d", EV, T), "x")
	c.expectStatus(c.get(fmt.Sprintf("%s?start=%d", EV, T+1)), 204)
	c.expectStatus(c.get(fmt.Sprintf("%s?end=%d", EV, T)), 204)
	c.expectBodies(fmt.Sprintf("%s?end=%d", EV, T+1), "x")
}

func TestCDAP38To41QueryErrors(t *testing.T) {
	_, c := withS(t)
	for q, want := range map[string]string{
		"start=5&end=5":               "Start time must be smaller than end time",
		"start=6&end=5":               "Start time must be smaller than end time",
		"start=now&end=now":           "Start time must be smaller than end time",
		"limit=0":                     "Cannot request for <=0 events",
		"limit=-1":                    "Cannot request for <=0 events",
		"limit=abc":                   "invalid limit abc",
		"limit=2147483648":            "invalid limit 2147483648",
		"start=-5":                    "invalid time format -5",
		"start=NOW":                   "invalid time format NOW",
		"start=Now":                   "invalid time format Now",
		"start=now%206h":              "invalid time format now 6h",
		"start=now-1w":                "invalid time format now-1w",
		"start=now/1d":                "invalid time format now/1d",
		"start=abc":                   "invalid time format abc",
		"start=":                      "invalid time format ",
		"start=99999999999999999999":  "invalid time format 99999999999999999999",
		"start=now-100000000d":        "Start time must be >= 0",
		"end=now-100000000d":          "End time must be >= 0",
		"format=xml":                  "Unknown events format xml. Use raw or records.",
		"start=now-100000000d&end=-1": "invalid time format -1",
	} {
		c.expect(c.get(EV+"?"+q), 400, want)
	}
	// The query is checked before existence.
	c.expect(c.get(D+"/streams/missing/events?limit=0"), 400, "Cannot request for <=0 events")
}

func TestCDAP42RelativeTimes(t *testing.T) {
	_, c := withS(t)
	c.ok(c.post(D+"/streams/s", "x"))
	time.Sleep(50 * time.Millisecond)
	c.expectBodies(EV+"?start=now-5m", "x")
	c.expectBodies(EV+"?start=now-1d%2B2h-30m&end=now", "x")
	c.expectStatus(c.get(EV+"?start=now-10ms"), 204)
	c.expectStatus(c.get(EV+"?end=now-1h"), 204)
	c.expectStatus(c.get(EV+"?start=now%2B1h"), 204)
}

func TestCDAP43TTLExpiry(t *testing.T) {
	_, c := fresh(t)
	c.ok(c.put(D+"/streams/s", `{"ttl":1}`))
	c.ok(c.post(D+"/streams/s", "x"))
	settle()
	c.expectBodies(EV, "x")
	time.Sleep(1100 * time.Millisecond)
	c.expectStatus(c.get(EV), 204)
	c.ok(c.put(D+"/streams/s/properties", `{"ttl":3600}`))
	c.expectBodies(EV, "x")
	c.ok(c.put(D+"/streams/z", `{"ttl":0}`))
	c.ok(c.post(D+"/streams/z", "x"))
	settle()
	c.expectStatus(c.get(D+"/streams/z/events"), 204)
}

// pollAll joins a fresh group from the earliest offsets of ns/topic and
// polls until the topic yields nothing more.
func pollAll(t *testing.T, ts *testServer, ns, topic string) []config.Event {
	t.Helper()
	ctx := context.Background()
	member := fmt.Sprintf("m-%d", time.Now().UnixNano())
	if _, err := ts.Engine.JoinGroup(ctx, config.JoinRequest{Namespace: ns, Group: member, Member: member,
		Topics: []string{topic}, StartFrom: config.StartEarliest}); err != nil {
		t.Fatal(err)
	}
	defer ts.Engine.LeaveGroup(ctx, ns, member, false)
	var out []config.Event
	for {
		r, err := ts.Engine.Poll(ctx, config.PollRequest{Namespace: ns, Member: member, AutoCommit: true, Wait: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, ch := range r.Chunks {
			out = append(out, ch.Events...)
			n += len(ch.Events)
		}
		if n == 0 {
			return out
		}
	}
}

func TestCDAP44Retention(t *testing.T) {
	ts, c := fresh(t)
	c.ok(c.put(D+"/streams/s", `{"ttl":1}`))
	for i := 0; i < 10; i++ {
		c.ok(c.post(D+"/streams/s", fmt.Sprint(i)))
	}
	time.Sleep(1100 * time.Millisecond)
	if err := ts.Engine.RunRetention(context.Background()); err != nil {
		t.Fatal(err)
	}
	if evs := pollAll(t, ts, "default", "s"); len(evs) != 0 {
		t.Fatalf("consumer got %d expired events", len(evs))
	}
	c.ok(c.put(D+"/streams/s/properties", `{"ttl":3600}`))
	c.expectStatus(c.get(EV), 204)
}

// --- Batch ---

func TestCDAP45TextBatch(t *testing.T) {
	_, c := withS(t)
	var b strings.Builder
	var want []string
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&b, "line %d\n", i)
		want = append(want, fmt.Sprintf("line %d", i))
	}
	c.ok(c.post(D+"/streams/s/batch", b.String(), "Content-Type", "text/plain"))
	settle()
	evs := c.expectBodies(EV, want...)
	for _, e := range evs {
		if fmt.Sprint(e.Headers) != "map[content.type:text/plain]" || e.Timestamp != evs[0].Timestamp {
			t.Fatalf("%+v", e)
		}
	}
}

func TestCDAP46LargeBatch(t *testing.T) {
	_, c := withS(t)
	var b strings.Builder
	var want []string
	for i := 0; i < 300; i++ {
		l := fmt.Sprintf("%04d:%s", i, strings.Repeat("x", 4000))
		want = append(want, l)
		b.WriteString(l + "\n")
	}
	if b.Len() <= 1<<20 {
		t.Fatal("body not over 1 MiB")
	}
	c.ok(c.post(D+"/streams/s/batch", b.String(), "Content-Type", "text/plain"))
	settle()
	c.expectBodies(EV, want...)
}

func TestCDAP47CRLF(t *testing.T) {
	_, c := withS(t)
	c.ok(c.post(D+"/streams/s/batch", "1,Sam\r\n2,Max\r\n\r\n", "Content-Type", "text/csv; charset=utf-8"))
	settle()
	for _, e := range c.expectBodies(EV, "1,Sam", "2,Max") {
		if e.Headers["content.type"] != "text/csv; charset=utf-8" || len(e.Headers) != 1 {
			t.Fatalf("%+v", e)
		}
	}
}

func TestCDAP48LineSplitting(t *testing.T) {
	for i, tc := range []struct {
		body string
		want []string
	}{
		{"a\nb", []string{"a", "b"}},
		{"a\n\nb\n", []string{"a", "b"}},
		{"\na\nb\n", []string{"a", "b"}},
		{"a\rb\n", []string{`a\x0Db`}},
		{"", nil},
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			_, c := withS(t)
			c.ok(c.post(D+"/streams/s/batch", tc.body, "Content-Type", "text/plain"))
			settle()
			if tc.want == nil {
				c.expectStatus(c.get(EV), 204)
				return
			}
			c.expectBodies(EV, tc.want...)
		})
	}
}

// chunked returns a body that arrives in n-byte chunks of unknown length.
func chunked(data []byte, n int) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		for len(data) > 0 {
			k := min(n, len(data))
			if _, err := pw.Write(data[:k]); err != nil {
				return
			}
			data = data[k:]
		}
		pw.Close()
	}()
	return pr
}

func TestCDAP49ChunkedBatch(t *testing.T) {
	_, c := withS(t)
	var b strings.Builder
	var want []string
	for i := 0; i < 1000; i++ {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "Message number %d", i)
		want = append(want, fmt.Sprintf("Message number %d", i))
	}
	c.ok(c.do("POST", D+"/streams/s/batch", chunked([]byte(b.String()), 10), "Content-Type", "text/plain"))
	settle()
	c.expectBodies(EV, want...)
}

func TestCDAP50BatchHeaders(t *testing.T) {
	_, c := withS(t)
	c.ok(c.post(D+"/streams/s/batch", "a\nb\n", "Content-Type", "text/plain", "s.src", "web"))
	c.expectStatus(c.post(D+"/streams/s/batch", "c\n", "Content-Type", "text/plain", "s.content.type", "x"), 400)
	settle()
	for _, e := range c.expectBodies(EV, "a", "b") {
		if fmt.Sprint(e.Headers) != "map[content.type:text/plain src:web]" {
			t.Fatalf("%+v", e)
		}
	}
}

// TestCDAPBatchCheckOrder: spec §4.6 checks ids → existence → headers
// (a prefixed header colliding with content.type included) → Content-Type.
func TestCDAPBatchCheckOrder(t *testing.T) {
	_, c := withS(t)
	dup := "Duplicate event header 'content.type'"
	for _, tc := range []struct {
		name   string
		path   string
		hdr    []string
		status int
		body   string
	}{
		{"missing stream before headers", D + "/streams/nope/batch", []string{"nope.h", "1", "Nope.H", "2"}, 404, "'stream:default.nope' was not found."},
		{"collision before absent type", D + "/streams/s/batch", []string{"s.content.type", "x"}, 400, dup},
		{"collision before unsupported type", D + "/streams/s/batch", []string{"Content-Type", "application/json", "S.Content.Type", "x"}, 400, dup},
		{"duplicate before unsupported type", D + "/streams/s/batch", []string{"Content-Type", "application/json", "s.h", "1", "s.H", "2"}, 400, "Duplicate event header 'h'"},
		{"avro reserves schema", D + "/streams/s/batch", []string{"Content-Type", "avro/binary", "s.schema.hash", "x"}, 400, "Duplicate event header 'schema.hash'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.t = t
			c.expect(c.post(tc.path, "a\n", tc.hdr...), tc.status, tc.body)
		})
	}
	c.t = t
	settle()
	c.expectStatus(c.get(EV), 204)
}

func TestCDAP51ContentTypes(t *testing.T) {
	_, c := withS(t)
	c.expect(c.post(D+"/streams/s/batch", "a\n"), 406, "Unknown content type")
	c.expect(c.post(D+"/streams/s/batch", "a\n", "Content-Type", "application/json"), 406, "Unsupported content type application/json")
	c.expect(c.post(D+"/streams/s/batch", "a\n", "Content-Type", "avro/binary; x=y"), 406, "Unsupported content type avro/binary; x=y")
	c.expect(c.post(D+"/streams/s/batch", "a\n", "Content-Type", "Text/plain"), 406, "Unsupported content type Text/plain")
	settle()
	c.expectStatus(c.get(EV), 204)
}

const avroRecordSchema = `{"type":"record","name":"Record","fields":[{"name":"id","type":"int"},{"name":"name","type":["null","string"]}]}`

type avroRec struct {
	ID   int32   `avro:"id"`
	Name *string `avro:"name"`
}

func avroFile(t testing.TB, codec ocf.CodecName, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc, err := ocf.NewEncoder(avroRecordSchema, &buf, ocf.WithCodec(codec), ocf.WithBlockLength(100))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("Record number %d", i)
		if err := enc.Encode(avroRec{ID: int32(i), Name: &name}); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// unescape reverses the body escaping for bodies without a literal `\x`.
func unescape(t *testing.T, s string) []byte {
	t.Helper()
	var out []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s)+0 && s[i+1] == 'x' {
			b, err := hex.DecodeString(s[i+2 : i+4])
			if err != nil {
				t.Fatalf("bad escape in %q", s)
			}
			out = append(out, b[0])
			i += 3
			continue
		}
		out = append(out, s[i])
	}
	return out
}

func TestCDAP52AvroBatch(t *testing.T) {
	for _, codec := range []ocf.CodecName{ocf.Snappy, ocf.Null, ocf.Deflate} {
		t.Run(string(codec), func(t *testing.T) {
			_, c := withS(t)
			file := avroFile(t, codec, 1000)
			dec, err := ocf.NewDecoder(bytes.NewReader(file))
			if err != nil {
				t.Fatal(err)
			}
			schemaText := string(dec.Metadata()["avro.schema"])
			sum := md5.Sum([]byte(schemaText))
			c.ok(c.do("POST", D+"/streams/s/batch", chunked(file, 10), "Content-Type", "avro/binary"))
			settle()
			evs := c.events(EV)
			if len(evs) != 1000 {
				t.Fatalf("%d events", len(evs))
			}
			sch := avro.MustParse(schemaText)
			for i, e := range evs {
				if e.Headers["content.type"] != "avro/binary" || e.Headers["schema"] != schemaText ||
					e.Headers["schema.hash"] != hex.EncodeToString(sum[:]) || len(e.Headers) != 3 {
					t.Fatalf("event %d headers %v", i, e.Headers)
				}
				var r avroRec
				if err := avro.Unmarshal(sch, unescape(t, e.Body), &r); err != nil {
					t.Fatalf("event %d: %v", i, err)
				}
				if r.ID != int32(i) || r.Name == nil || *r.Name != fmt.Sprintf("Record number %d", i) {
					t.Fatalf("event %d: %+v", i, r)
				}
			}
		})
	}
}

func TestCDAP53AvroErrors(t *testing.T) {
	_, c := withS(t)
	r := c.post(D+"/streams/s/batch", "not avro", "Content-Type", "avro/binary")
	if r.status != 400 || !strings.HasPrefix(r.body, "Failed to process uploaded avro file: ") {
		t.Fatalf("%d %q", r.status, r.body)
	}
	c.ok(c.do("POST", D+"/streams/s/batch", bytes.NewReader(avroFile(t, ocf.Null, 0)), "Content-Type", "avro/binary"))
	file := avroFile(t, ocf.Deflate, 1000)
	cut := file[:len(file)-40]
	r = c.do("POST", D+"/streams/s/batch", bytes.NewReader(cut), "Content-Type", "avro/binary")
	if r.status != 400 || !strings.HasPrefix(r.body, "Failed to process uploaded avro file: ") {
		t.Fatalf("cut file: %d %q", r.status, r.body)
	}
	settle()
	c.expectStatus(c.get(EV), 204)
	c.expect(c.do("POST", D+"/streams/missing/batch", bytes.NewReader(file), "Content-Type", "avro/binary"), 404, "'stream:default.missing' was not found.")
}

func TestCDAPBatchTooLarge(t *testing.T) {
	ts := startServer(t, func(c *config.Config) {
		c.CDAP.MaxBatchSize = 1000
		c.CDAP.MaxEventSize = 100
	})
	c := newClient(t, ts)
	c.ok(c.put(D+"/streams/s", ""))
	c.ok(c.post(D+"/streams/s", strings.Repeat("e", 100)))
	c.expect(c.post(D+"/streams/s", strings.Repeat("e", 101)), 413, "Request body too large")
	c.expect(c.do("POST", D+"/streams/s", chunked([]byte(strings.Repeat("e", 101)), 10)), 413, "Request body too large")
	c.expect(c.post(D+"/streams/s/batch", strings.Repeat("a\n", 501), "Content-Type", "text/plain"), 413, "Request body too large")
	c.expect(c.do("POST", D+"/streams/s/batch", chunked([]byte(strings.Repeat("a\n", 501)), 64), "Content-Type", "text/plain"), 413, "Request body too large")
	c.ok(c.post(D+"/streams/s/batch", strings.Repeat("a\n", 500), "Content-Type", "text/plain"))
	r := c.do("POST", D+"/streams/s/batch", bytes.NewReader(avroFile(t, ocf.Null, 100)), "Content-Type", "avro/binary")
	c.expect(r, 413, "Request body too large")
	// Existence is checked before the body.
	c.expectStatus(c.post(D+"/streams/nope", strings.Repeat("e", 101)), 404)
	settle()
	if n := len(c.events(EV)); n != 501 {
		t.Fatalf("%d events, want 501", n)
	}
}

// --- Truncate and delete ---

func TestCDAP54Truncate(t *testing.T) {
	ts, c := fresh(t)
	c.ok(c.put(D+"/streams/s", `{"ttl":3600,"description":"d"}`))
	for i := 0; i < 8; i++ {
		c.ok(c.post(D+"/streams/s", fmt.Sprint(i)))
	}
	props := c.get(D + "/streams/s").body
	c.ok(c.post(D+"/streams/s/truncate", ""))
	c.expectStatus(c.get(EV), 204)
	if got := c.get(D + "/streams/s").body; got != props {
		t.Fatalf("properties changed: %s -> %s", props, got)
	}
	c.ok(c.post(D+"/streams/s", "x"))
	settle()
	c.expectBodies(EV, "x")
	evs := pollAll(t, ts, "default", "s")
	if len(evs) != 1 || string(evs[0].Body) != "x" || evs[0].Offset < 2 {
		t.Fatalf("consumer after truncate: %+v", evs)
	}
}

func TestCDAP55MissingAndInvalid(t *testing.T) {
	_, c := fresh(t)
	c.expect(c.post(D+"/streams/nope/async", "x"), 404, "'stream:default.nope' was not found.")
	c.expect(c.post(D+"/streams/nope/truncate", ""), 404, "'stream:default.nope' was not found.")
	c.expect(c.do("DELETE", D+"/streams/nope", nil), 404, "'stream:default.nope' was not found.")
	c.expectStatus(c.post(D+"/streams/bad@id/async", "x"), 400)
	c.expectStatus(c.post(D+"/streams/bad@id/truncate", ""), 400)
	c.expectStatus(c.do("DELETE", D+"/streams/bad@id", nil), 400)
	// A missing namespace also gives the stream body.
	c.expect(c.post("/v3/namespaces/nons/streams/s", "x"), 404, "'stream:nons.s' was not found.")
}

func TestCDAP56DeleteAndRecreate(t *testing.T) {
	_, c := withS(t)
	c.ok(c.post(D+"/streams/s", "x"))
	settle()
	c.expectBodies(EV, "x")
	c.ok(c.do("DELETE", D+"/streams/s", nil))
	c.expect(c.get(D+"/streams/s"), 404, "'stream:default.s' was not found.")
	c.expect(c.get(EV), 404, "")
	c.expectStatus(c.post(D+"/streams/s", "y"), 404)
	c.expectStatus(c.post(D+"/streams/s/truncate", ""), 404)
	c.expectStatus(c.do("DELETE", D+"/streams/s", nil), 404)
	c.ok(c.put(D+"/streams/s", ""))
	c.expectStatus(c.get(EV), 204)
	c.ok(c.put(D+"/streams/t", `{"ttl":10,"description":"d"}`))
	c.ok(c.do("DELETE", D+"/streams/t", nil))
	c.ok(c.put(D+"/streams/t", ""))
	c.jsonEq(c.get(D+"/streams/t"), defaultProps)
}

// --- Cross-API, notifications, usage, records, routing ---

func TestCDAP57CrossAPI(t *testing.T) {
	ts, c := withS(t)
	c.ok(c.post(D+"/streams/s", "from cdap"))
	evs := pollAll(t, ts, "default", "s")
	if len(evs) != 1 || string(evs[0].Body) != "from cdap" {
		t.Fatalf("consumer: %+v", evs)
	}
	// Keyed produces that reach all 4 partitions.
	hit := map[int]bool{}
	var want []string
	for k := 0; len(hit) < 4; k++ {
		key := []byte(fmt.Sprint("key", k))
		p := config.PartitionForKey(key, 4)
		if hit[p] {
			continue
		}
		hit[p] = true
		body := fmt.Sprintf("keyed %d", k)
		res, err := ts.Engine.Produce(context.Background(), config.ProduceRequest{Namespace: "default", Topic: "s", Key: key,
			Messages: []config.Message{{Body: []byte(body)}}})
		if err != nil || res.Partition != p {
			t.Fatalf("produce: %+v %v", res, err)
		}
		want = append(want, body)
	}
	settle()
	got := c.events(EV)
	if len(got) != 5 || got[0].Body != "from cdap" {
		t.Fatalf("EV: %q", bodies(got))
	}
	for i, e := range got[1:] {
		if e.Body != want[i] || len(e.Headers) != 0 {
			t.Fatalf("event %d: %+v", i+1, e)
		}
		if e.Timestamp < got[i].Timestamp {
			t.Fatal("not in timestamp order")
		}
	}
}

func TestCDAP58TopicFromOtherAPI(t *testing.T) {
	ts, c := fresh(t)
	if _, err := ts.Engine.Produce(context.Background(), config.ProduceRequest{Namespace: "default", Topic: "polar",
		CreateTopic: true, Messages: []config.Message{{Body: []byte("p")}}}); err != nil {
		t.Fatal(err)
	}
	c.jsonEq(c.get(D+"/streams"), `[{"name":"polar"}]`)
	c.jsonEq(c.get(D+"/streams/polar"), defaultProps)
	c.ok(c.put(D+"/streams/polar", `{"ttl":5}`))
	c.jsonEq(c.get(D+"/streams/polar"), defaultProps)
	settle()
	c.expectBodies(D+"/streams/polar/events", "p")
}

func TestCDAP59Notifications(t *testing.T) {
	_, c := withS(t)
	c.ok(c.put(D+"/streams/s/properties", `{"notification.threshold.mb":1}`))
	c.ok(c.put(D+"/streams/s2", `{"notification.threshold.mb":1}`))
	c.ok(c.post(D+"/streams/s2", strings.Repeat("z", 1048576)))
	c.ok(c.post(D+"/streams/s", strings.Repeat("a", 600000)))
	const N = D + "/streams/_notifications/events"
	time.Sleep(3 * time.Second)
	if r := c.get(N); r.status != 404 && r.status != 204 {
		t.Fatalf("_notifications not empty after one send: %d %q", r.status, r.body)
	}
	c.ok(c.post(D+"/streams/s", strings.Repeat("b", 600000)))
	var evs []event
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if r := c.get(N); r.status == 200 {
			evs = c.events(N)
			break
		}
	}
	if len(evs) != 1 {
		t.Fatalf("%d notifications", len(evs))
	}
	var n struct {
		Stream    string `json:"stream"`
		Namespace string `json:"namespace"`
		Timestamp int64  `json:"timestamp"`
		Size      int64  `json:"size"`
	}
	if err := json.Unmarshal([]byte(evs[0].Body), &n); err != nil {
		t.Fatalf("notification body %q", evs[0].Body)
	}
	if n.Stream != "s" || n.Namespace != "default" || n.Size != 1200000 || n.Timestamp <= 0 || len(evs[0].Headers) != 0 {
		t.Fatalf("notification %+v", evs[0])
	}
}

// fakeUsage is the pipelines' usage as the streams manager would report it.
type fakeUsage map[string][]config.TopicRef

func (f fakeUsage) TopicsUsed(context.Context) (map[string][]config.TopicRef, error) { return f, nil }

func TestCDAP60UsageUnknown(t *testing.T) {
	_, c := withS(t)
	for _, p := range []string{D + "/apps/nope/streams", D + "/apps/nope/workers/nope/streams", D + "/adapters/nope/streams",
		D + "/data/datasets/s/programs", D + "/streams/s/programs"} {
		c.jsonEq(c.get(p), `[]`)
	}
}

func TestCDAP61Usage(t *testing.T) {
	ts := startServerWith(t, nil, func(o *api.Options) {
		o.Usage = fakeUsage{
			"p1": {{Namespace: "", Topic: "t"}, {Namespace: "default", Topic: "s"}},
			"p2": {{Namespace: "ns1", Topic: "s"}},
		}
	})
	c := newClient(t, ts)
	refs := `[{"namespace":{"id":"default"},"streamName":"s"},{"namespace":{"id":"default"},"streamName":"t"}]`
	c.jsonEq(c.get(D+"/apps/p1/streams"), refs)
	c.jsonEq(c.get(D+"/apps/p1/workers/p1/streams"), refs)
	c.jsonEq(c.get(D+"/adapters/p1/streams"), refs)
	c.jsonEq(c.get(D+"/apps/p1/flows/other/streams"), `[]`)
	prog := `[{"application":{"namespace":{"id":"default"},"applicationId":"p1"},"type":"Worker","id":"p1"}]`
	c.jsonEq(c.get(D+"/data/datasets/s/programs"), prog)
	c.jsonEq(c.get(D+"/streams/s/programs"), prog)
	c.jsonEq(c.get("/v3/namespaces/ns1/apps/p1/streams"), `[]`)
	c.expect(c.get(D+"/apps/p1/bogus/p1/streams"), 400, "Unknown category name bogus")
	c.expectStatus(c.get("/v3/namespaces/bad-ns/apps/p1/streams"), 400)
	c.expectStatus(c.get(D+"/data/datasets/bad@ds/programs"), 400)
}

func TestCDAP62RecordsCSV(t *testing.T) {
	_, c := fresh(t)
	c.ok(c.put(D+"/streams/s", `{"format":{"name":"csv","schema":{"type":"record","name":"r","fields":[{"name":"f1","type":"string"},{"name":"f2","type":"int"}]}}}`))
	c.ok(c.post(D+"/streams/s", "a,1"))
	c.ok(c.post(D+"/streams/s", "b,x"))
	settle()
	evs := c.events(EV + "?format=records")
	if len(evs) != 2 || canon(string(evs[0].Record)) != `{"f1":"a","f2":1}` || evs[0].Body != "" {
		t.Fatalf("%+v", evs)
	}
	if evs[1].Record != nil || evs[1].Body != "b,x" || evs[1].Error == "" {
		t.Fatalf("%+v", evs[1])
	}
	c.ok(c.put(D+"/streams/t", ""))
	c.ok(c.post(D+"/streams/t", "hello"))
	settle()
	evs = c.events(D + "/streams/t/events?format=records")
	if canon(string(evs[0].Record)) != `{"body":"hello"}` {
		t.Fatalf("%+v", evs)
	}
	c.expect(c.get(EV+"?format=xml"), 400, "Unknown events format xml. Use raw or records.")
}

func TestCDAP63RecordsCLFAndSyslog(t *testing.T) {
	_, c := fresh(t)
	c.ok(c.put(D+"/streams/clf", `{"format":{"name":"clf"}}`))
	c.ok(c.post(D+"/streams/clf", `127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326 "http://x/" "Mozilla/4.08"`))
	c.ok(c.put(D+"/streams/sys", `{"format":{"name":"syslog"}}`))
	c.ok(c.post(D+"/streams/sys", `Oct 11 22:14:15 host1 sshd[123]: Accepted`))
	settle()
	evs := c.events(D + "/streams/clf/events?format=records")
	want := `{"remote_host":"127.0.0.1","remote_login":null,"auth_user":"frank","request_time":"10/Oct/2000:13:55:36 -0700","request":"GET /a.gif HTTP/1.0","status":200,"content_length":2326,"referrer":"http://x/","user_agent":"Mozilla/4.08"}`
	if canon(string(evs[0].Record)) != canon(want) {
		t.Fatalf("clf: %s", evs[0].Record)
	}
	evs = c.events(D + "/streams/sys/events?format=records")
	want = `{"timestamp":"Oct 11 22:14:15","logsource":"host1","program":"sshd","pid":"123","message":"Accepted"}`
	if canon(string(evs[0].Record)) != canon(want) {
		t.Fatalf("syslog: %s", evs[0].Record)
	}
}

func TestCDAP64Routing(t *testing.T) {
	_, c := fresh(t)
	c.expect(c.post(D+"/streams", ""), 405, "Problem accessing: /v3/namespaces/default/streams. Reason: Method Not Allowed")
	c.expect(c.get("/v3/nothing"), 404, "Problem accessing: /v3/nothing. Reason: Not Found")
	c.ok(c.put(D+"/streams/s", ""))
	c.expect(c.get(D+"/streams/s/views"), 404, "Problem accessing: /v3/namespaces/default/streams/s/views. Reason: Not Found")
	c.expectStatus(c.get("/v3/unrecoverable/namespaces/default"), 404)
}

// TestCDAPRoutingEdges: CDAP's HTTP library drops one trailing slash before
// matching a route, and its 404/405 text quotes the request URI as sent,
// query and percent-escapes included.
func TestCDAPRoutingEdges(t *testing.T) {
	_, c := fresh(t)
	c.ok(c.put(D+"/streams/s/", ""))
	c.jsonEq(c.get(D+"/streams/"), `[{"name":"s"}]`)
	c.jsonEq(c.get(D+"/streams/s/"), defaultProps)
	c.jsonEq(c.get("/v3/namespaces/"), `[{"name":"default","description":"Default Namespace"}]`)
	c.ok(c.post(D+"/streams/s/", "x"))
	c.expect(c.get(D+"/streams//"), 404, "Problem accessing: "+D+"/streams//. Reason: Not Found")
	c.expect(c.get(D+"/streams/s/events//"), 404, "Problem accessing: "+D+"/streams/s/events//. Reason: Not Found")
	c.expect(c.get("/v3/nothing?a=1&b=%20"), 404, "Problem accessing: /v3/nothing?a=1&b=%20. Reason: Not Found")
	c.expect(c.post(D+"/streams/?x=1", ""), 405, "Problem accessing: "+D+"/streams/?x=1. Reason: Method Not Allowed")
	c.expect(c.get(D+"/streams/a%2Fb"), 404, "Problem accessing: "+D+"/streams/a%2Fb. Reason: Not Found")
	c.expect(c.get("/v3/"), 404, "Problem accessing: /v3/. Reason: Not Found")
}

// --- beyond the checklist ---

// TestCDAPRestart checks that TTL, truncate and delete survive a graceful
// restart, and that offsets keep growing across it.
func TestCDAPRestart(t *testing.T) {
	ts, c := fresh(t)
	c.ok(c.put(D+"/streams/ttl", `{"ttl":1}`))
	c.ok(c.post(D+"/streams/ttl", "old"))
	c.ok(c.put(D+"/streams/tr", `{"description":"keep"}`))
	for i := 0; i < 3; i++ {
		c.ok(c.post(D+"/streams/tr", fmt.Sprint(i)))
	}
	c.ok(c.post(D+"/streams/tr/truncate", ""))
	c.ok(c.put(D+"/streams/del", ""))
	c.ok(c.post(D+"/streams/del", "gone"))
	c.ok(c.do("DELETE", D+"/streams/del", nil))
	c.ok(c.put(D+"/streams/fmt", `{"format":{"name":"CSV","schema":{"type":"record","name":"r","fields":[{"name":"a","type":["string","null"]}]},"settings":{"delimiter":";"}}}`))
	before := c.get(D + "/streams/fmt")
	time.Sleep(1100 * time.Millisecond)

	ts.Restart(t)
	c = newClient(t, ts)
	// The properties answer is the same compact line after a restart (the
	// catalog's file indents the stored format; §0 wants compact JSON).
	if after := c.get(D + "/streams/fmt"); after.status != 200 || after.body != before.body || strings.ContainsAny(after.body, "\n ") {
		t.Fatalf("properties after restart:\n%s\nbefore:\n%s", after.body, before.body)
	}
	if ttl := ttlOf(c, "ttl"); ttl != 1 {
		t.Fatalf("ttl after restart %d", ttl)
	}
	c.expectStatus(c.get(D+"/streams/ttl/events"), 204)
	c.ok(c.put(D+"/streams/ttl/properties", `{"ttl":3600}`))
	c.expectBodies(D+"/streams/ttl/events", "old")

	c.expectStatus(c.get(D+"/streams/tr/events"), 204)
	if !strings.Contains(c.get(D+"/streams/tr").body, `"description":"keep"`) {
		t.Fatal("description lost")
	}
	c.ok(c.post(D+"/streams/tr", "new"))
	settle()
	c.expectBodies(D+"/streams/tr/events", "new")
	evs := pollAll(t, ts, "default", "tr")
	if len(evs) != 1 || string(evs[0].Body) != "new" {
		t.Fatalf("consumer after restart: %+v", evs)
	}

	c.expectStatus(c.get(D+"/streams/del"), 404)
	c.ok(c.put(D+"/streams/del", ""))
	c.expectStatus(c.get(D+"/streams/del/events"), 204)
}

// TestCDAPConcurrentSends checks acknowledged sends are all readable, in an
// order consistent with their timestamps, under concurrency.
func TestCDAPConcurrentSends(t *testing.T) {
	_, c := withS(t)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			cc := *c
			cc.t = t
			for i := 0; i < 50; i++ {
				r := cc.post(D+"/streams/s", fmt.Sprintf("%d-%d", w, i))
				if r.status != 200 {
					t.Errorf("send: %d %q", r.status, r.body)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	settle()
	evs := c.events(EV)
	if len(evs) != 400 {
		t.Fatalf("%d events", len(evs))
	}
	seen := map[string]bool{}
	last := map[string]int{}
	for i, e := range evs {
		if i > 0 && e.Timestamp < evs[i-1].Timestamp {
			t.Fatal("not in timestamp order")
		}
		seen[e.Body] = true
		var w, n int
		fmt.Sscanf(e.Body, "%d-%d", &w, &n)
		if prev, ok := last[fmt.Sprint(w)]; ok && n <= prev {
			t.Fatalf("writer %d: %d after %d", w, n, prev)
		}
		last[fmt.Sprint(w)] = n
	}
	if len(seen) != 400 {
		t.Fatalf("%d distinct events", len(seen))
	}
	keys := make([]string, 0, len(last))
	for k := range last {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) != 8 {
		t.Fatalf("writers %v", keys)
	}
}

// TestCDAPReadPaging reads across the engine's page size with a batch whose
// events share one timestamp straddling a page boundary.
func TestCDAPReadPaging(t *testing.T) {
	_, c := withS(t)
	var want []string
	for i := 0; i < 900; i++ {
		c.ok(c.post(D+"/streams/s", fmt.Sprint("single ", i)))
		want = append(want, fmt.Sprint("single ", i))
	}
	var b strings.Builder
	for i := 0; i < 2500; i++ {
		fmt.Fprintf(&b, "batch %d\n", i)
		want = append(want, fmt.Sprint("batch ", i))
	}
	c.ok(c.post(D+"/streams/s/batch", b.String(), "Content-Type", "text/plain"))
	for i := 0; i < 10; i++ {
		c.ok(c.post(D+"/streams/s", fmt.Sprint("tail ", i)))
		want = append(want, fmt.Sprint("tail ", i))
	}
	settle()
	c.expectBodies(EV, want...)
	c.expectBodies(EV+"?limit=1500", want[:1500]...)
	c.expectBodies(EV+"?limit=3405", want[:3405]...)
}

// TestCDAPRecordsAvro reads an Avro batch back as records: each event is
// decoded with the writer schema of its `schema` header and resolved to the
// stream schema (id promoted to long).
func TestCDAPRecordsAvro(t *testing.T) {
	_, c := fresh(t)
	c.ok(c.put(D+"/streams/s", `{"format":{"name":"avro","schema":{"type":"record","name":"Record","fields":[{"name":"id","type":"long"},{"name":"name","type":["string","null"]}]}}}`))
	c.ok(c.do("POST", D+"/streams/s/batch", bytes.NewReader(avroFile(t, ocf.Snappy, 3)), "Content-Type", "avro/binary"))
	c.ok(c.post(D+"/streams/s", "not avro"))
	settle()
	evs := c.events(EV + "?format=records")
	if len(evs) != 4 {
		t.Fatalf("%d events", len(evs))
	}
	for i := 0; i < 3; i++ {
		if got := canon(string(evs[i].Record)); got != canon(fmt.Sprintf(`{"id":%d,"name":"Record number %d"}`, i, i)) {
			t.Fatalf("record %d: %s", i, got)
		}
	}
	if evs[3].Error == "" || evs[3].Body != "not avro" {
		t.Fatalf("undecodable event: %+v", evs[3])
	}
}
