package http_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The contract test drives every documented operation of a real weir; the
// harness (openapi_harness_test.go) validates every request and response
// against openapi.yaml. So the document cannot drift from the handlers: an
// undocumented status, content type, field or route fails here.

// contractClient sends requests through the recorder and checks statuses,
// so the scenario provably reaches the branch it means to.
type contractClient struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func (c *contractClient) call(want int, method, path, ctype, body string, header ...string) string {
	c.t.Helper()
	return c.send(c.t.Fatalf, want, method, path, ctype, body, header...)
}

// check is call that goes on after a wrong status, so one misbehaving route
// does not hide the validation of every later exchange.
func (c *contractClient) check(want int, method, path, ctype, body string, header ...string) string {
	c.t.Helper()
	return c.send(c.t.Errorf, want, method, path, ctype, body, header...)
}

func (c *contractClient) send(fail func(string, ...any), want int, method, path, ctype, body string, header ...string) string {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		fail("%s %s: status %d, want %d; body %q", method, path, resp.StatusCode, want, b)
	}
	return string(b)
}

// eventually repeats a GET until it answers want (CDAP reads exclude the
// current millisecond, so an event becomes readable a moment after its send).
func (c *contractClient) eventually(want int, path string) {
	c.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := c.hc.Get(c.base + path)
		if err != nil {
			c.t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == want {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("GET %s: status %d, want %d", path, resp.StatusCode, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

const contractStream = `input:
  generate:
    interval: 20ms
    count: 3
    mapping: 'root = {"n": counter()}'
output:
  drop: {}
`

func TestOpenAPIContract(t *testing.T) {
	ts := startServer(t, nil)
	c := &contractClient{t: t, base: ts.URL, hc: &http.Client{}}

	// Process routes.
	c.call(200, "GET", "/ping", "", "")
	c.call(200, "GET", "/version", "", "")
	c.call(200, "GET", "/ready", "", "")
	c.call(200, "GET", "/metrics", "", "")
	c.call(200, "GET", "/openapi.json", "", "")

	// PolarStreams.
	c.call(200, "GET", "/v1/brokers", "", "")
	c.call(200, "GET", "/status", "", "")
	c.call(200, "POST", "/v1/topic/ct/messages?partitionKey=123", "application/x-ndjson", "{\"n\":1}\n{\"n\":2}\nplain\n")
	c.call(200, "POST", "/v1/topic/ct/messages", "application/json", `{"one":"event"}`)
	c.call(400, "POST", "/v1/topic/a%20b/messages", "text/plain", "x")
	c.call(200, "PUT", "/v1/consumer/register?consumerId=c1&group=cg&topic=ct&onNewGroup=startFromEarliest", "", "")
	c.call(200, "POST", "/v1/consumer/register?consumerId=c1&group=cg&topic=ct", "", "")
	c.call(400, "PUT", "/v1/consumer/register?consumerId=c1", "", "")
	c.call(200, "POST", "/v1/consumer/poll?consumerId=c1", "", "", "Accept", "application/json")
	c.call(204, "POST", "/v1/consumer/poll?consumerId=c1&wait=10ms", "", "")
	c.call(400, "POST", "/v1/consumer/poll?consumerId=c1&wait=forever", "", "")
	c.call(409, "POST", "/v1/consumer/poll?consumerId=nobody", "", "")
	c.call(204, "POST", "/v1/consumer/commit?consumerId=c1", "", "")
	c.call(409, "POST", "/v1/consumer/commit?consumerId=nobody", "", "")

	// weir admin.
	c.call(200, "GET", "/weir/v1/namespaces", "", "")
	c.call(201, "POST", "/weir/v1/namespaces", "application/json", `{"name":"ops","description":"operations"}`)
	c.call(409, "POST", "/weir/v1/namespaces", "application/json", `{"name":"ops"}`)
	c.call(400, "POST", "/weir/v1/namespaces", "application/json", `{"name":"ops","bogus":1}`)
	c.call(201, "PUT", "/weir/v1/namespaces/ops2", "", "")
	c.call(200, "PUT", "/weir/v1/namespaces/ops2", "application/json", `{"description":"ignored"}`)
	c.call(200, "GET", "/weir/v1/namespaces/ops", "", "")
	c.call(404, "GET", "/weir/v1/namespaces/nope", "", "")
	c.call(400, "GET", "/weir/v1/namespaces/bad-ns", "", "")
	c.call(201, "POST", "/weir/v1/namespaces/ops/topics", "application/json", `{"name":"orders","partitions":3,"ttl":"72h","description":"web orders"}`)
	c.call(409, "POST", "/weir/v1/namespaces/ops/topics", "application/json", `{"name":"orders"}`)
	c.call(400, "POST", "/weir/v1/namespaces/ops/topics", "application/json", `{"name":"x","ttl":"1h","ttl_ms":5}`)
	c.call(404, "POST", "/weir/v1/namespaces/nope/topics", "application/json", `{"name":"x"}`)
	c.call(200, "GET", "/weir/v1/namespaces/ops/topics", "", "")
	c.call(200, "GET", "/weir/v1/namespaces/default/topics", "", "")
	c.call(404, "GET", "/weir/v1/namespaces/nope/topics", "", "")
	c.call(200, "GET", "/weir/v1/namespaces/default/topics/ct", "", "")
	c.call(404, "GET", "/weir/v1/namespaces/default/topics/nope", "", "")
	c.call(200, "GET", "/weir/v1/namespaces/default/topics/ct/partitions/0/events?offset=0&max_events=10", "", "")
	c.call(200, "GET", "/weir/v1/namespaces/default/topics/ct/partitions/1/events", "", "")
	c.call(400, "GET", "/weir/v1/namespaces/default/topics/ct/partitions/x/events", "", "")
	c.call(404, "GET", "/weir/v1/namespaces/default/topics/ct/partitions/9/events", "", "")
	c.call(200, "GET", "/weir/v1/namespaces/default/groups", "", "")
	c.call(200, "GET", "/weir/v1/namespaces/default/groups/cg", "", "")
	c.call(404, "GET", "/weir/v1/namespaces/default/groups/nope", "", "")
	c.call(200, "POST", "/weir/v1/namespaces/ops/topics/orders/truncate", "", "")
	c.call(204, "DELETE", "/weir/v1/namespaces/ops/topics/orders", "", "")
	c.call(404, "DELETE", "/weir/v1/namespaces/ops/topics/orders", "", "")
	c.call(204, "DELETE", "/weir/v1/namespaces/ops2", "", "")
	c.call(403, "DELETE", "/weir/v1/namespaces/default", "", "")

	c.call(200, "POST", "/v1/consumer/goodbye?consumerId=c1", "", "")
	c.call(409, "POST", "/v1/consumer/goodbye?consumerId=c1", "", "")

	// CDAP v3.
	const D = "/v3/namespaces/cns"
	c.call(200, "GET", "/v3/namespaces", "", "")
	c.call(200, "PUT", D, "", `{"description":"cdap"}`)
	c.call(400, "PUT", "/v3/namespaces/my-ns", "", "")
	c.call(200, "GET", D, "", "")
	c.call(404, "GET", "/v3/namespaces/nope", "", "")
	c.call(200, "PUT", D+"/streams/cs", "", "")
	c.call(400, "PUT", D+"/streams/inv@lid", "", "")
	c.call(200, "GET", D+"/streams", "", "")
	c.call(200, "GET", D+"/streams/cs", "", "")
	c.call(404, "GET", D+"/streams/nope", "", "")
	c.call(200, "PUT", D+"/streams/cs/properties", "", `{"ttl":3600,"description":"contract"}`)
	c.call(400, "PUT", D+"/streams/cs/properties", "", `{"ttl":-1}`)
	c.call(200, "POST", D+"/streams/cs", "text/plain", "hello", "cs.src", "web")
	c.call(202, "POST", D+"/streams/cs/async", "", "later")
	c.call(200, "POST", D+"/streams/cs/batch", "text/plain", "b1\nb2\n")
	c.call(406, "POST", D+"/streams/cs/batch", "application/json", "[]")
	c.eventually(200, D+"/streams/cs/events?limit=100")
	c.call(200, "GET", D+"/streams/cs/events?start=0&end=now&limit=10", "", "")
	c.call(200, "GET", D+"/streams/cs/events?format=records", "", "")
	c.call(400, "GET", D+"/streams/cs/events?limit=0", "", "")
	c.call(404, "GET", D+"/streams/nope/events", "", "")
	c.call(200, "POST", D+"/streams/cs/truncate", "", "")
	c.call(204, "GET", D+"/streams/cs/events", "", "")
	c.call(200, "GET", D+"/apps/p1/streams", "", "")
	c.call(200, "GET", D+"/apps/p1/workers/p1/streams", "", "")
	c.call(400, "GET", D+"/apps/p1/bogus/p1/streams", "", "")
	c.call(200, "GET", D+"/adapters/p1/streams", "", "")
	c.call(200, "GET", D+"/data/datasets/cs/programs", "", "")
	c.call(200, "GET", D+"/streams/cs/programs", "", "")
	c.call(200, "DELETE", D+"/streams/cs", "", "")
	c.call(404, "DELETE", D+"/streams/cs", "", "")
	c.call(200, "DELETE", D, "", "")
	c.call(403, "DELETE", "/v3/namespaces/default", "", "")

	// Streams mode.
	c.call(200, "GET", "/streams", "", "")
	c.call(200, "POST", "/streams/s1", "", contractStream)
	c.call(400, "POST", "/streams/s1", "", contractStream)
	c.call(400, "POST", "/streams/lint", "", "input:\n  generate:\n    mapping: root = 1\n    nope: true\noutput:\n  drop: {}\n")
	c.call(200, "GET", "/streams/s1", "", "")
	c.call(404, "GET", "/streams/nope", "", "")
	c.call(200, "PUT", "/streams/s1", "application/yaml", contractStream)
	c.call(404, "PUT", "/streams/nope", "", contractStream)
	c.call(200, "PATCH", "/streams/s1", "", "input:\n  generate:\n    interval: 30ms\n")
	c.call(200, "GET", "/streams/s1/stats", "", "")
	// A stream's own endpoints, under its id.
	c.call(200, "POST", "/streams/hs", "", "input:\n  http_server:\n    path: /post\noutput:\n  drop: {}\n")
	c.call(200, "POST", "/hs/post", "text/plain", "hi")
	c.call(200, "GET", "/hs/ready", "", "")
	c.call(404, "GET", "/nope/ready", "", "")
	c.call(404, "POST", "/nope/post", "text/plain", "hi")
	c.check(200, "POST", "/resources/cache/rc1", "", "memory: {default_ttl: 60s}\n")
	c.call(400, "POST", "/resources/bogus/x", "", "memory: {}\n")
	c.call(200, "DELETE", "/streams/s1?timeout=5s", "", "")
	c.call(404, "DELETE", "/streams/s1", "", "")
	c.call(200, "POST", "/streams", "application/json", `{"s2":{"input":{"generate":{"count":1,"interval":"","mapping":"root = 1"}},"output":{"drop":{}}}}`)
	c.call(200, "POST", "/streams", "", "{}")
	c.call(400, "PUT", "/streams", "", "")
	c.call(400, "DELETE", "/streams", "", "")

	// The harness validated every exchange (failures are reported at the
	// test's cleanup); this scenario on its own must reach every documented
	// operation, whatever else the package's tests exercise.
	ts.Stop(t)
	n, covered := ts.contract.coverage()
	if missing := uncoveredOperations(loadOpenAPI(t), covered); len(missing) > 0 {
		t.Errorf("operations never exercised by the contract test:\n  %s", strings.Join(missing, "\n  "))
	}
	t.Logf("validated %d exchanges over %d operations", n, len(covered))
}
