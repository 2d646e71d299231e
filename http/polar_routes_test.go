package http

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/weirflow/weir/config"
)

// recordingEngine is a scripted Engine for the route-level tests of this
// file: it records what the handlers ask and answers what a test sets.
// The engine's own behaviour is covered by the conformance tests against
// the real engine (polar_conformance_test.go); these pin the HTTP layer's
// validation order, bodies and headers, including "no engine call" cases.
type recordingEngine struct {
	Engine // nil: any method not overridden fails the test by panicking

	mu       sync.Mutex
	ready    bool
	produced []config.ProduceRequest
	joins    []config.JoinRequest
	polls    []config.PollRequest
	commits  []string
	leaves   []string
	leaveCom []bool
	err      error
	poll     config.PollResult
	join     config.JoinResult
}

func (e *recordingEngine) Ready() bool { e.mu.Lock(); defer e.mu.Unlock(); return e.ready }

func (e *recordingEngine) Produce(_ context.Context, req config.ProduceRequest) (config.ProduceResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	// Keep copies, as the real engine keeps its log's: after a success the
	// caller may reuse the bodies' buffers (Engine.Produce).
	req.Messages = slices.Clone(req.Messages)
	for i := range req.Messages {
		req.Messages[i].Body = bytes.Clone(req.Messages[i].Body)
	}
	e.produced = append(e.produced, req)
	return config.ProduceResult{Count: len(req.Messages)}, e.err
}

func (e *recordingEngine) JoinGroup(_ context.Context, req config.JoinRequest) (config.JoinResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.joins = append(e.joins, req)
	return e.join, e.err
}

func (e *recordingEngine) Poll(_ context.Context, req config.PollRequest) (config.PollResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.polls = append(e.polls, req)
	return e.poll, e.err
}

func (e *recordingEngine) Commit(_ context.Context, ns, member string, offsets []config.PartitionOffset) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.commits = append(e.commits, ns+"/"+member)
	return e.err
}

func (e *recordingEngine) LeaveGroup(_ context.Context, ns, member string, commit bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.leaves = append(e.leaves, ns+"/"+member)
	e.leaveCom = append(e.leaveCom, commit)
	return e.err
}

func (e *recordingEngine) calls() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.produced) + len(e.joins) + len(e.polls) + len(e.commits) + len(e.leaves)
}

// startRouteServer serves a Server over real loopback HTTP with eng.
func startRouteServer(t *testing.T, eng *recordingEngine, mutate func(*config.Config)) (*Server, string) {
	t.Helper()
	cfg := config.Default()
	cfg.Server.Addr = "127.0.0.1:0"
	cfg.Server.ShutdownTimeout = config.Duration(5 * time.Second)
	if mutate != nil {
		mutate(&cfg)
	}
	s := New(Options{Config: cfg, Engine: eng, Logger: zerolog.Nop()})
	ln, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return s, "http://" + ln.Addr().String()
}

type answer struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, method, u, ct string, body io.Reader, hdr ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func (a answer) expect(t *testing.T, status int, ct, body string) {
	t.Helper()
	if a.status != status || a.header.Get("Content-Type") != ct || a.body != body {
		t.Fatalf("got %d %q %q, want %d %q %q", a.status, a.header.Get("Content-Type"), a.body, status, ct, body)
	}
}

func allowSet(h http.Header) string {
	var ms []string
	for _, v := range h.Values("Allow") {
		for _, m := range strings.Split(v, ",") {
			ms = append(ms, strings.TrimSpace(m))
		}
	}
	sort.Strings(ms)
	return strings.Join(ms, ",")
}

// TestPolarRouting: 404 and 405 bodies, Allow sets and the GET-messages
// special body (section 0 and cases 4, 6, 8, 13, 30).
func TestPolarRouting(t *testing.T) {
	eng := &recordingEngine{ready: true}
	_, base := startRouteServer(t, eng, nil)
	cases := []struct {
		method, path string
		status       int
		allow, body  string
	}{
		{"GET", "/v1/nope", 404, "", "404 page not found"},
		{"GET", "/v1/brokers/", 404, "", "404 page not found"},
		{"POST", "/v1/topic/a%2Fb/messages", 404, "", "404 page not found"},
		{"POST", "/v1/topic/a/b/messages", 404, "", "404 page not found"},
		{"POST", "/v1/brokers", 405, "GET", "Method Not Allowed"},
		{"DELETE", "/status", 405, "GET", "Method Not Allowed"},
		{"GET", "/v1/topic/t1/messages", 405, "POST", polarGetMessages},
		{"GET", "/v1/topic//messages", 405, "POST", polarGetMessages},
		{"PUT", "/v1/topic/t1/messages", 405, "POST", "Method Not Allowed"},
		{"DELETE", "/v1/topic/t1/messages", 405, "POST", "Method Not Allowed"},
		{"GET", "/v1/consumer/register", 405, "POST,PUT", "Method Not Allowed"},
		{"GET", "/v1/consumer/poll", 405, "POST", "Method Not Allowed"},
		{"PUT", "/v1/consumer/commit", 405, "POST", "Method Not Allowed"},
		{"GET", "/v1/consumer/goodbye", 405, "POST", "Method Not Allowed"},
	}
	for _, tc := range cases {
		a := do(t, tc.method, base+tc.path, "", nil)
		a.expect(t, tc.status, polarPlain, tc.body)
		if got := allowSet(a.header); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
		}
	}
	if eng.calls() != 0 {
		t.Fatalf("routing errors reached the engine")
	}
}

// TestPolarDraining: every route answers 503 with the broker body while the
// engine is not ready.
func TestPolarDraining(t *testing.T) {
	eng := &recordingEngine{ready: false}
	_, base := startRouteServer(t, eng, nil)
	for _, r := range [][2]string{
		{"GET", "/v1/brokers"}, {"GET", "/status"}, {"POST", "/v1/topic/t/messages"},
		{"PUT", "/v1/consumer/register?consumerId=a&topic=t"}, {"POST", "/v1/consumer/poll?consumerId=a"},
		{"POST", "/v1/consumer/commit?consumerId=a"}, {"POST", "/v1/consumer/goodbye?consumerId=a"},
	} {
		a := do(t, r[0], base+r[1], "application/json", strings.NewReader("{}"))
		a.expect(t, 503, polarPlain, polarUnavailable)
		if a.header.Get("Retry-After") != "1" {
			t.Fatalf("%v: Retry-After %q", r, a.header.Get("Retry-After"))
		}
	}
	if eng.calls() != 0 {
		t.Fatal("a draining request reached the engine")
	}
}

// TestPolarProduceValidation: check order and bodies of produce errors, and
// what reaches the engine.
func TestPolarProduceValidation(t *testing.T) {
	eng := &recordingEngine{ready: true}
	_, base := startRouteServer(t, eng, func(c *config.Config) { c.PolarStreams.MaxMessageSize = 16 })
	size := polarSizeText(16)
	msgs := base + "/v1/topic/"
	do(t, "POST", msgs+"/messages", "", strings.NewReader("")).expect(t, 400, polarPlain, polarInvalidTopic)
	do(t, "POST", msgs+"a%20b/messages", "", strings.NewReader("x")).expect(t, 400, polarPlain, polarInvalidTopic)
	do(t, "POST", msgs+"../messages", "", strings.NewReader("x")).expect(t, 400, polarPlain, polarInvalidTopic)
	do(t, "POST", msgs+strings.Repeat("a", 256)+"/messages", "", strings.NewReader("x")).expect(t, 400, polarPlain, polarInvalidTopic)
	do(t, "POST", msgs+"t/messages", "", nil).expect(t, 400, polarPlain, size)
	do(t, "POST", msgs+"t/messages", "", strings.NewReader(strings.Repeat("x", 17))).expect(t, 400, polarPlain, size)
	// A body of unknown length (io.MultiReader) goes out chunked when it is
	// non-empty; an empty one goes out as Content-Length: 0 (the client
	// probes it). A true zero-length chunked body is conformance case 9.
	do(t, "POST", msgs+"t/messages", "", io.MultiReader(strings.NewReader(""))).expect(t, 400, polarPlain, size)
	do(t, "POST", msgs+"t/messages", "", io.MultiReader(strings.NewReader(strings.Repeat("y", 17)))).expect(t, 400, polarPlain, size)
	do(t, "POST", msgs+"t/messages", "application/x-ndjson", strings.NewReader("\n\r\n\n")).expect(t, 400, polarPlain, polarNoEvents)
	if eng.calls() != 0 {
		t.Fatal("a rejected produce reached the engine")
	}
	do(t, "POST", msgs+"t/messages", "", strings.NewReader(strings.Repeat("z", 16))).expect(t, 200, polarHTML, "OK")
	do(t, "POST", msgs+"t/messages", "", io.MultiReader(strings.NewReader(strings.Repeat("w", 16)))).expect(t, 200, polarHTML, "OK")
	do(t, "POST", msgs+"t.x-y_z/messages?partitionKey=k%C3%A9&timestamp=1700000000000000", "Application/X-NDJSON; charset=utf-8",
		strings.NewReader("a\r\n\r\n b\n[1]")).expect(t, 200, polarHTML, "OK")
	do(t, "POST", msgs+"t/messages?partitionKey=", "application/json", strings.NewReader("[1,\n2]")).expect(t, 200, polarHTML, "OK")
	want := []struct {
		topic, key string
		bodies     []string
	}{
		{"t", "", []string{strings.Repeat("z", 16)}},
		{"t", "", []string{strings.Repeat("w", 16)}},
		{"t.x-y_z", "ké", []string{"a", " b", "[1]"}},
		{"t", "", []string{"[1,\n2]"}},
	}
	if len(eng.produced) != len(want) {
		t.Fatalf("%d produce calls, want %d", len(eng.produced), len(want))
	}
	for i, w := range want {
		got := eng.produced[i]
		if got.Namespace != "default" || got.Topic != w.topic || string(got.Key) != w.key || !got.CreateTopic || len(got.Messages) != len(w.bodies) {
			t.Fatalf("call %d: %+v", i, got)
		}
		if w.key == "" && got.Key != nil {
			t.Fatalf("call %d: empty key must be keyless (nil), got %q", i, got.Key)
		}
		for j, b := range w.bodies {
			if string(got.Messages[j].Body) != b {
				t.Fatalf("call %d message %d: %q, want %q", i, j, got.Messages[j].Body, b)
			}
		}
	}
}

// TestPolarProduceOversizedNotRead: a Content-Length above the limit is
// answered without reading the body: the client gets the 400 while it has
// sent only the headers.
func TestPolarProduceOversizedNotRead(t *testing.T) {
	eng := &recordingEngine{ready: true}
	_, base := startRouteServer(t, eng, nil)
	u, _ := url.Parse(base)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/topic/t/messages HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", 1048577)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 400 || string(b) != polarSizeText(1048576) {
		t.Fatalf("got %d %q", resp.StatusCode, b)
	}
	if eng.calls() != 0 {
		t.Fatal("engine called")
	}
}

// TestPolarProduceKeepAliveAfterEmpty: an empty body (Content-Length 0 or a
// zero-length chunked body) leaves nothing unread, so its 400 keeps the
// connection open and the next request on it is answered; an oversized body
// closes it (its rest was never read).
func TestPolarProduceKeepAliveAfterEmpty(t *testing.T) {
	eng := &recordingEngine{ready: true}
	_, base := startRouteServer(t, eng, func(c *config.Config) { c.PolarStreams.MaxMessageSize = 4 })
	u, _ := url.Parse(base)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(conn)
	for i, tc := range []struct {
		req       string
		status    int
		body      string
		connClose bool
	}{
		{"POST /v1/topic/t/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 400, polarSizeText(4), false},
		{"POST /v1/topic/t/messages HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, polarSizeText(4), false},
		{"POST /v1/topic/t/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nabcd", 200, "OK", false},
		{"POST /v1/topic/t/messages HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n0\r\n\r\n", 400, polarSizeText(4), true},
	} {
		if _, err := io.WriteString(conn, tc.req); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || string(b) != tc.body || resp.Close != tc.connClose {
			t.Fatalf("request %d: %d %q close=%v, want %d %q close=%v", i, resp.StatusCode, b, resp.Close, tc.status, tc.body, tc.connClose)
		}
	}
}

// TestPolarProduceErrors maps engine errors to the spec's answers.
func TestPolarProduceErrors(t *testing.T) {
	eng := &recordingEngine{ready: true}
	_, base := startRouteServer(t, eng, nil)
	for _, tc := range []struct {
		err         error
		status      int
		body, retry string
	}{
		{fmt.Errorf("p-1: %w", config.ErrBusy), 503, polarBusy, "1"},
		{config.ErrStorage, 500, polarInternal, ""},
		{config.ErrTimeout, 500, polarInternal, ""},
		{config.ErrUnavailable, 503, polarUnavailable, "1"},
	} {
		eng.mu.Lock()
		eng.err = tc.err
		eng.mu.Unlock()
		a := do(t, "POST", base+"/v1/topic/t/messages", "", strings.NewReader("x"))
		a.expect(t, tc.status, polarPlain, tc.body)
		if a.header.Get("Retry-After") != tc.retry {
			t.Fatalf("%v: Retry-After %q", tc.err, a.header.Get("Retry-After"))
		}
	}
}

// TestPolarRegisterValidation: check order and bodies of register, and the
// normalised request the engine sees.
func TestPolarRegisterValidation(t *testing.T) {
	eng := &recordingEngine{ready: true}
	_, base := startRouteServer(t, eng, nil)
	reg := base + "/v1/consumer/register?"
	for _, q := range []string{"topic=t", "consumerId=&topic=t", "consumerId=c", "consumerId=c&topic=t&topic=", "topic=t&onNewGroup=bogus", "consumerid=c&topic=t"} {
		do(t, "PUT", reg+q, "", nil).expect(t, 400, polarPlain, polarEmptyIDOrTopics)
	}
	for _, q := range []string{"consumerId=c&topic=t&onNewGroup=bogus", "consumerId=c&topic=t&onNewGroup=", "consumerId=c&topic=t&onNewGroup=startfromearliest", "consumerId=c&topic=a%2Fb&onNewGroup=x"} {
		do(t, "PUT", reg+q, "", nil).expect(t, 400, polarPlain, polarBadPolicy)
	}
	for _, q := range []string{"consumerId=c&topic=a%2Fb", "consumerId=c&topic=ok&topic=..", "consumerId=c&topic=a%20b&group=bad%20group"} {
		do(t, "POST", reg+q, "", nil).expect(t, 400, polarPlain, polarInvalidTopic)
	}
	// Group names are text, not file names: only control characters,
	// invalid UTF-8 and more than 255 bytes are refused.
	for _, g := range []string{"%00", "a%0Ab", "%FF", strings.Repeat("g", 256)} {
		do(t, "POST", reg+"consumerId=c&topic=t&group="+g, "", nil).expect(t, 400, polarPlain, polarBadGroup)
	}
	if eng.calls() != 0 {
		t.Fatal("a rejected register reached the engine")
	}
	for i, g := range []string{"..", "a%20b", "team:billing", "a%2Fb", "%E6%97%A5%E6%9C%AC", strings.Repeat("g", 255)} {
		do(t, "PUT", reg+fmt.Sprintf("consumerId=n%d&topic=t&group=%s", i, g), "", nil).expect(t, 200, polarHTML, "OK")
		want, _ := url.QueryUnescape(g)
		if got := eng.joins[len(eng.joins)-1].Group; got != want {
			t.Fatalf("group %s reached the engine as %q", g, got)
		}
	}
	eng.joins = nil
	do(t, "PUT", reg+"consumerId=c1&topic=b&topic=a&topic=b&onNewGroup=startFromEarliest", "", nil).expect(t, 200, polarHTML, "OK")
	eng.join = config.JoinResult{AlreadyRegistered: true}
	do(t, "POST", reg+"consumer_id=c2&group=g&group=h&topic=a", "", nil).expect(t, 200, polarHTML, "Already registered")
	eng.join = config.JoinResult{}
	eng.err = fmt.Errorf("x: %w", config.ErrMemberConflict)
	do(t, "PUT", reg+"consumerId=c1&consumer_id=zz&topic=a", "", nil).expect(t, 400, polarPlain, polarConflict)
	want := []config.JoinRequest{
		{Namespace: "default", Group: "default", Member: "c1", Topics: []string{"a", "b"}, StartFrom: config.StartEarliest, CreateTopics: true},
		{Namespace: "default", Group: "g", Member: "c2", Topics: []string{"a"}, StartFrom: config.StartLatest, CreateTopics: true},
		{Namespace: "default", Group: "default", Member: "c1", Topics: []string{"a"}, StartFrom: config.StartLatest, CreateTopics: true},
	}
	if fmt.Sprint(eng.joins) != fmt.Sprint(want) {
		t.Fatalf("joins\n got %+v\nwant %+v", eng.joins, want)
	}
}

// TestPolarPollAnswers: 400/406 without side effects, 409, both 204s with
// their headers, and a 200 with Content-Length and the exact body.
func TestPolarPollAnswers(t *testing.T) {
	eng := &recordingEngine{ready: true}
	_, base := startRouteServer(t, eng, nil)
	poll := base + "/v1/consumer/poll?consumerId=c1"
	for _, w := range []string{"abc", "-1s", "31s", "", "1"} {
		do(t, "POST", poll+"&wait="+w, "", nil).expect(t, 400, polarPlain, polarBadWait)
	}
	do(t, "POST", poll, "", nil, "Accept", "application/vnd.polar.consumermessage").expect(t, 406, polarPlain, polarNotAcceptable)
	do(t, "POST", base+"/v1/consumer/poll", "", nil).expect(t, 409, polarPlain, polarNotRegistered)
	if eng.calls() != 0 {
		t.Fatal("a rejected poll reached the engine")
	}
	eng.err = config.ErrNotMember
	do(t, "POST", poll, "", nil).expect(t, 409, polarPlain, polarNotRegistered)
	eng.err = config.ErrStorage
	do(t, "POST", poll, "", nil).expect(t, 500, polarPlain, polarReadError)
	eng.err = nil
	a := do(t, "POST", poll+"&wait=30s", "", nil)
	if a.status != 204 || a.body != "" || a.header.Get("Retry-After") != "5" || a.header.Get("Cache-Control") != "no-store" || a.header.Get("Content-Type") != "" {
		t.Fatalf("no partitions: %+v", a)
	}
	eng.poll = config.PollResult{Assigned: 2}
	a = do(t, "POST", poll+"&wait=0", "", nil, "Accept", "*/*")
	if a.status != 204 || a.body != "" || a.header.Get("Retry-After") != "1" || a.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("no records: %+v", a)
	}
	eng.poll = config.PollResult{Assigned: 2, Chunks: []config.Chunk{chunkOf("T", 0, 0, `{"a":1}`)}}
	a = do(t, "POST", poll, "", nil, "Accept", "application/json; charset=utf-8")
	want := `[{"topic":"T","token":"-9223372036854775808","rangeIndex":0,"version":1,"startOffset":"0","values":[{"a":1}]}]`
	a.expect(t, 200, polarJSON, want)
	if a.header.Get("Content-Length") != strconv.Itoa(len(want)) {
		t.Fatalf("Content-Length %q", a.header.Get("Content-Length"))
	}
	// A large answer still has Content-Length (not chunked).
	big := chunkOf("T", 1, 5, strings.Repeat("x", 300<<10), strings.Repeat("\xff", 100<<10))
	eng.poll = config.PollResult{Assigned: 1, Chunks: []config.Chunk{big}}
	a = do(t, "POST", poll, "", nil)
	if a.status != 200 || a.header.Get("Content-Length") != strconv.Itoa(len(a.body)) || len(a.body) < 400<<10 {
		t.Fatalf("big answer: %d, Content-Length %q, %d bytes", a.status, a.header.Get("Content-Length"), len(a.body))
	}
	if len(eng.polls) != 6 {
		t.Fatalf("%d polls reached the engine, want 6", len(eng.polls))
	}
	p := eng.polls[2]
	if p.Namespace != "default" || p.Member != "c1" || !p.AutoCommit || p.Wait != 30*time.Second ||
		p.MaxEventsPerPartition != 1000 || p.MaxBytesPerPartition != 1<<20 || p.MaxBytes != 2<<20 {
		t.Fatalf("poll request %+v", p)
	}
}

// TestPolarCommitGoodbye: 204/200 answers, 409 for missing ids, the commit
// flag of goodbye.
func TestPolarCommitGoodbye(t *testing.T) {
	eng := &recordingEngine{ready: true}
	_, base := startRouteServer(t, eng, nil)
	do(t, "POST", base+"/v1/consumer/commit", "", nil).expect(t, 409, polarPlain, polarNotRegistered)
	do(t, "POST", base+"/v1/consumer/goodbye?consumerId=", "", nil).expect(t, 409, polarPlain, polarNotRegistered)
	a := do(t, "POST", base+"/v1/consumer/commit?consumerId=c1", "", nil)
	if a.status != 204 || a.header.Get("Cache-Control") != "no-store" || a.header.Get("Retry-After") != "1" || a.body != "" {
		t.Fatalf("commit: %+v", a)
	}
	for _, q := range []string{"", "&commit=false", "&commit=0", "&commit=no", "&commit=true"} {
		do(t, "POST", base+"/v1/consumer/goodbye?consumerId=c1"+q, "", nil).expect(t, 200, polarHTML, "OK")
	}
	if fmt.Sprint(eng.leaveCom) != "[true false false true true]" || eng.commits[0] != "default/c1" {
		t.Fatalf("leaves %v %v commits %v", eng.leaves, eng.leaveCom, eng.commits)
	}
	eng.err = config.ErrNotMember
	do(t, "POST", base+"/v1/consumer/commit?consumerId=c1", "", nil).expect(t, 409, polarPlain, polarNotRegistered)
	do(t, "POST", base+"/v1/consumer/goodbye?consumerId=c1", "", nil).expect(t, 409, polarPlain, polarNotRegistered)
}

// TestPolarDiscovery: /v1/brokers and /status on the main listener, and the
// advertised host rules.
func TestPolarDiscovery(t *testing.T) {
	eng := &recordingEngine{ready: true}
	s, base := startRouteServer(t, eng, nil)
	m := strconv.Itoa(s.mainPort)
	do(t, "GET", base+"/v1/brokers", "", nil).expect(t, 200, polarJSON,
		`{"length":1,"names":["127.0.0.1"],"producerPort":`+m+`,"producerBinaryPort":0,"consumerPort":`+m+"}\n")
	do(t, "GET", base+"/status", "", nil).expect(t, 200, polarPlain, "weir listening on "+m+"\n")

	for _, tc := range []struct{ addr, adv, want string }{
		{"127.0.0.1:0", "", "127.0.0.1"},
		{"[::1]:0", "", "::1"},
		{"localhost:4195", "", "localhost"},
		{"127.0.0.1:0", "broker.example", "broker.example"},
	} {
		cfg := config.Default()
		cfg.Server.Addr, cfg.PolarStreams.AdvertisedHost = tc.addr, tc.adv
		if got := New(Options{Config: cfg}).advertisedHost(); got != tc.want {
			t.Errorf("%q/%q: %q, want %q", tc.addr, tc.adv, got, tc.want)
		}
	}
	for _, addr := range []string{"0.0.0.0:1", "[::]:1", ":1"} {
		cfg := config.Default()
		cfg.Server.Addr = addr
		if got := New(Options{Config: cfg}).advertisedHost(); got == "" || got == "0.0.0.0" || got == "::" {
			t.Errorf("%q: advertised %q, want the host name", addr, got)
		}
	}
}

// TestPolarDedicatedListeners: cases 2, 3 and 5 at the HTTP layer: bound
// ports are reported, each listener serves only its family and /status.
func TestPolarDedicatedListeners(t *testing.T) {
	eng := &recordingEngine{ready: true}
	s, base := startRouteServer(t, eng, func(c *config.Config) {
		c.PolarStreams.DedicatedListeners = true
		c.PolarStreams.DiscoveryPort, c.PolarStreams.ProducerPort, c.PolarStreams.ConsumerPort = 0, 0, 0
	})
	dp, pp, cp := s.PolarPorts()
	if dp == 0 || pp == 0 || cp == 0 || dp == pp || pp == cp {
		t.Fatalf("ports %d %d %d", dp, pp, cp)
	}
	at := func(port int) string { return "http://127.0.0.1:" + strconv.Itoa(port) }
	brokers := fmt.Sprintf(`{"length":1,"names":["127.0.0.1"],"producerPort":%d,"producerBinaryPort":0,"consumerPort":%d}`+"\n", pp, cp)
	do(t, "GET", base+"/v1/brokers", "", nil).expect(t, 200, polarJSON, brokers)
	do(t, "GET", at(dp)+"/v1/brokers", "", nil).expect(t, 200, polarJSON, brokers)
	do(t, "GET", at(dp)+"/status", "", nil).expect(t, 200, polarPlain, fmt.Sprintf("Client discovery server listening on %d\n", dp))
	do(t, "GET", at(pp)+"/status", "", nil).expect(t, 200, polarPlain, fmt.Sprintf("Producer server listening on %d\n", pp))
	do(t, "GET", at(cp)+"/status", "", nil).expect(t, 200, polarPlain, fmt.Sprintf("Consumer server listening on %d\n", cp))
	do(t, "POST", at(pp)+"/v1/consumer/poll?consumerId=a", "", nil).expect(t, 404, polarPlain, "404 page not found")
	do(t, "GET", at(cp)+"/v1/brokers", "", nil).expect(t, 404, polarPlain, "404 page not found")
	do(t, "GET", at(cp)+"/v1/topic/t/messages", "", nil).expect(t, 404, polarPlain, "404 page not found")
	do(t, "POST", at(dp)+"/v1/topic/t/messages", "", strings.NewReader("x")).expect(t, 404, polarPlain, "404 page not found")
	do(t, "GET", at(dp)+"/ping", "", nil).expect(t, 404, polarPlain, "404 page not found")
	if eng.calls() != 0 {
		t.Fatal("engine called")
	}
	do(t, "POST", at(pp)+"/v1/topic/t/messages", "", strings.NewReader("x")).expect(t, 200, polarHTML, "OK")
	eng.poll = config.PollResult{Assigned: 1}
	a := do(t, "POST", at(cp)+"/v1/consumer/poll?consumerId=a", "", nil)
	if a.status != 204 {
		t.Fatalf("poll on consumer port: %+v", a)
	}
}

// TestPolarDedicatedListenersLogged: with port 0 the discovery port is not in
// any answer, so start-up logs every bound dedicated address; a black-box
// client finds the listeners there.
func TestPolarDedicatedListenersLogged(t *testing.T) {
	var logBuf syncBuffer
	cfg := config.Default()
	cfg.Server.Addr = "127.0.0.1:0"
	cfg.PolarStreams.DedicatedListeners = true
	cfg.PolarStreams.DiscoveryPort, cfg.PolarStreams.ProducerPort, cfg.PolarStreams.ConsumerPort = 0, 0, 0
	s := New(Options{Config: cfg, Engine: &recordingEngine{ready: true}, Logger: zerolog.New(&logBuf)})
	ln, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	var line struct {
		Message   string `json:"message"`
		Discovery string `json:"discovery_addr"`
		Producer  string `json:"producer_addr"`
		Consumer  string `json:"consumer_addr"`
	}
	for _, l := range strings.Split(logBuf.String(), "\n") {
		if strings.Contains(l, "dedicated listeners bound") {
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatal(err)
			}
		}
	}
	dp, pp, cp := s.PolarPorts()
	want := fmt.Sprintf("127.0.0.1:%d 127.0.0.1:%d 127.0.0.1:%d", dp, pp, cp)
	if got := line.Discovery + " " + line.Producer + " " + line.Consumer; got != want {
		t.Fatalf("logged %q, want %q (log %q)", got, want, logBuf.String())
	}
	do(t, "GET", "http://"+line.Discovery+"/status", "", nil).expect(t, 200, polarPlain, fmt.Sprintf("Client discovery server listening on %d\n", dp))
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines to log into.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// blockingPollEngine parks every poll until the request's context ends and
// then fails the way actors.Engine does: a timeout that names the
// cancellation only in its text.
type blockingPollEngine struct {
	recordingEngine
	parked chan struct{}
}

func (e *blockingPollEngine) Poll(ctx context.Context, _ config.PollRequest) (config.PollResult, error) {
	close(e.parked)
	<-ctx.Done()
	return config.PollResult{}, fmt.Errorf("%w: poll: %v", config.ErrTimeout, ctx.Err())
}

// TestPolarClientGoneIsNotAnError: a client that drops a waiting poll is not
// a server failure: no error is logged (it was, as "polarstreams request
// failed", for every client-side timeout of a long poll).
func TestPolarClientGoneIsNotAnError(t *testing.T) {
	var logBuf syncBuffer
	cfg := config.Default()
	cfg.Server.Addr = "127.0.0.1:0"
	eng := &blockingPollEngine{recordingEngine: recordingEngine{ready: true}, parked: make(chan struct{})}
	s := New(Options{Config: cfg, Engine: eng, Logger: zerolog.New(&logBuf)})
	ln, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		})
	}
	defer stop()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, "POST /v1/consumer/poll?consumerId=c1&wait=30s HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	<-eng.parked
	conn.Close()
	// The graceful stop waits for the handler, so its log line is written
	// once stop returns.
	stop()
	if strings.Contains(logBuf.String(), `"level":"error"`) {
		t.Fatalf("a dropped client was logged as an error: %s", logBuf.String())
	}
	if !strings.Contains(logBuf.String(), "client went away") {
		t.Fatalf("no debug line for the dropped client: %q", logBuf.String())
	}
}
