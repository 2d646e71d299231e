package main

// End-to-end tests of the weir binary: TestMain builds it once, and each test
// runs it as a real process on loopback with its own data directory, talks
// HTTP to it, and stops it with real signals (SIGTERM, SIGKILL). These are the
// only tests that can show what a killed process leaves on disk.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var weirBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "weir-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	weirBin = filepath.Join(dir, "weir")
	// The test binary was just built from the same packages, so this build
	// is mostly a link from the warm cache. No VCS stamping: a clone whose
	// git refuses to answer (ownership checks in CI) would fail the build.
	build := exec.Command(goTool(), "build", "-buildvcs=false", "-o", weirBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building weir:", err)
		return 1
	}
	return m.Run()
}

func goTool() string {
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); fileExists(p) {
			return p
		}
	}
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "go"
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// proc is one running weir process.
type proc struct {
	t    testing.TB
	cmd  *exec.Cmd
	base string // http://host:port once listening

	mu     sync.Mutex
	logs   bytes.Buffer
	exited chan struct{}
	err    error // cmd.Wait's answer, set before exited closes
}

// launch starts weir with args and env extras, without waiting for it.
func launch(t testing.TB, env []string, args ...string) (*proc, <-chan string) {
	t.Helper()
	cmd := exec.Command(weirBin, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout // one stream, in order
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, cmd: cmd, exited: make(chan struct{})}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
		for sc.Scan() {
			line := sc.Bytes()
			p.mu.Lock()
			p.logs.Write(line)
			p.logs.WriteByte('\n')
			p.mu.Unlock()
			var rec struct {
				Message string `json:"message"`
				Addr    string `json:"addr"`
			}
			if json.Unmarshal(line, &rec) == nil && rec.Message == "listening" && rec.Addr != "" {
				select {
				case addrc <- rec.Addr:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("weir %s output:\n%s", strings.Join(args, " "), p.output())
		}
	})
	return p, addrc
}

// startWeir runs `weir serve` on dataDir with a free port and returns once
// it logged its bound address.
func startWeir(t testing.TB, dataDir string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir}, extra...)
	p, addrc := launch(t, nil, args...)
	select {
	case addr := <-addrc:
		p.base = "http://" + addr
	case <-p.exited:
		t.Fatalf("weir exited before listening (%v):\n%s", p.err, p.output())
	case <-time.After(60 * time.Second):
		t.Fatalf("weir did not log its address within 60s:\n%s", p.output())
	}
	return p
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(within time.Duration) int {
	p.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(within):
		p.t.Fatalf("weir still running after %s:\n%s", within, p.output())
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &ee):
		return ee.ExitCode() // -1 when killed by a signal
	default:
		p.t.Fatalf("wait: %v", p.err)
		return -2
	}
}

// kill stops weir with SIGKILL: no drain, no fsync, no goodbye.
func (p *proc) kill() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		p.t.Fatal(err)
	}
	<-p.exited
}

// term sends SIGTERM and requires exit code 0 within the deadline.
func (p *proc) term(within time.Duration) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatal(err)
	}
	if code := p.wait(within); code != 0 {
		p.t.Fatalf("exit code %d after SIGTERM, want 0:\n%s", code, p.output())
	}
}

var client = &http.Client{Timeout: 40 * time.Second}

// do sends one request and returns status, headers and body.
func (p *proc) do(method, path, contentType string, body []byte) (int, http.Header, []byte) {
	p.t.Helper()
	req, err := http.NewRequest(method, p.base+path, bytes.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := client.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		p.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

func (p *proc) expect(method, path string, body []byte, status int) []byte {
	p.t.Helper()
	code, _, b := p.do(method, path, "", body)
	if code != status {
		p.t.Fatalf("%s %s → %d %q, want %d", method, path, code, b, status)
	}
	return b
}

func TestServeBasicRoutes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	p := startWeir(t, dir)

	if b := p.expect("GET", "/ping", nil, 200); string(b) != "pong" {
		t.Errorf("/ping body %q", b)
	}
	var ver struct{ Version, Built string }
	if err := json.Unmarshal(p.expect("GET", "/version", nil, 200), &ver); err != nil || ver.Version == "" || ver.Built == "" {
		t.Errorf("/version: %+v %v", ver, err)
	}
	if b := p.expect("GET", "/ready", nil, 200); string(b) != "OK" {
		t.Errorf("/ready body %q", b)
	}
	// Produce once so per-topic series exist, then scrape.
	p.expect("POST", "/v1/topic/metered/messages", []byte("x"), 200)
	code, h, b := p.do("GET", "/metrics", "", nil)
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		t.Errorf("/metrics → %d %q", code, h.Get("Content-Type"))
	}
	for _, series := range []string{`weir_topic_events_in_total{`, `weir_partition_append_fsync_seconds_bucket{`, `weir_partition_end_offset{`} {
		if !bytes.Contains(b, []byte(series)) {
			t.Errorf("/metrics lacks %s", series)
		}
	}
	if !fileExists(filepath.Join(dir, "LOCK")) {
		t.Errorf("--data-dir %s not used", dir)
	}
	p.term(30 * time.Second)
	if out := p.output(); !strings.Contains(out, `"message":"stopped"`) {
		t.Errorf("no clean stop logged:\n%s", out)
	}
}

func TestServeSecondProcessOnSameDataDirFails(t *testing.T) {
	dir := t.TempDir()
	first := startWeir(t, dir)

	second, _ := launch(t, nil, "serve", "--addr", "127.0.0.1:0", "--data-dir", dir)
	if code := second.wait(60 * time.Second); code == 0 {
		t.Fatalf("second weir on the same data dir exited 0:\n%s", second.output())
	}
	if out := second.output(); !strings.Contains(out, "weir: data directory "+dir+" is locked by another weir process") {
		t.Fatalf("second weir's error does not name the lock:\n%s", out)
	}
	// The first one is unharmed.
	first.expect("POST", "/v1/topic/still/messages", []byte("ok"), 200)
	first.term(30 * time.Second)
}

func TestServeConfigFileAndErrors(t *testing.T) {
	root := t.TempDir()
	dataDir := filepath.Join(root, "from-env")
	cfg := filepath.Join(root, "weir.yaml")
	body := "server:\n  addr: ${WEIR_E2E_ADDR:127.0.0.1:0}\n  shutdown_timeout: 20s\nstorage:\n  data_dir: ${WEIR_E2E_DIR}\n  default_partitions: 2\nlog:\n  format: json\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	p, addrc := launch(t, []string{"WEIR_E2E_ADDR=", "WEIR_E2E_DIR=" + dataDir}, "serve", "-c", cfg)
	select {
	case addr := <-addrc:
		p.base = "http://" + addr
	case <-p.exited:
		t.Fatalf("weir exited:\n%s", p.output())
	case <-time.After(60 * time.Second):
		t.Fatalf("no address logged:\n%s", p.output())
	}
	if !fileExists(filepath.Join(dataDir, "LOCK")) {
		t.Fatalf("data_dir from ${WEIR_E2E_DIR} not used")
	}
	// default_partitions: 2 from the file reaches the engine.
	p.expect("POST", "/v1/topic/two/messages", []byte("x"), 200)
	p.expect("PUT", "/v1/consumer/register?consumerId=a&topic=two&onNewGroup=startFromEarliest", nil, 200)
	p.expect("PUT", "/v1/consumer/register?consumerId=b&topic=two&onNewGroup=startFromEarliest", nil, 200)
	p.expect("PUT", "/v1/consumer/register?consumerId=c&topic=two&onNewGroup=startFromEarliest", nil, 200)
	code, h, _ := p.do("POST", "/v1/consumer/poll?consumerId=c", "", nil)
	if code != 204 || h.Get("Retry-After") != "5" {
		t.Errorf("third consumer of a 2-partition topic: %d Retry-After %q, want 204 and 5", code, h.Get("Retry-After"))
	}
	p.term(30 * time.Second)

	// Invalid settings stop weir before it touches the data directory.
	badDir := filepath.Join(root, "never")
	bad, _ := launch(t, []string{"WEIR_E2E_DIR=" + badDir}, "serve", "-c", cfg, "--addr", "nowhere")
	if code := bad.wait(30 * time.Second); code != 1 {
		t.Errorf("bad --addr: exit %d, want 1", code)
	}
	if out := bad.output(); !strings.Contains(out, "server.addr (--addr): must be host:port") {
		t.Errorf("bad --addr output:\n%s", out)
	}
	unset, _ := launch(t, []string{"WEIR_E2E_DIR="}, "serve", "-c", cfg)
	if code := unset.wait(30 * time.Second); code != 1 {
		t.Errorf("unset variable: exit %d, want 1", code)
	}
	if out := unset.output(); !strings.Contains(out, "storage.data_dir (line 5): environment variable WEIR_E2E_DIR is not set") {
		t.Errorf("unset variable output:\n%s", out)
	}
	if fileExists(badDir) {
		t.Errorf("a rejected configuration created %s", badDir)
	}
}

// pollUntil polls consumer id until the wanted bodies have all been seen or
// the deadline passes; it returns every body seen, as decoded strings (or raw
// JSON for spliced values).
func pollUntil(t *testing.T, p *proc, id string, want []string, within time.Duration) []string {
	t.Helper()
	var seen []string
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		code, _, b := p.do("POST", "/v1/consumer/poll?consumerId="+id+"&wait=2s", "", nil)
		switch code {
		case 204:
			continue
		case 200:
		default:
			t.Fatalf("poll → %d %q", code, b)
		}
		var items []struct {
			Values []json.RawMessage `json:"values"`
		}
		if err := json.Unmarshal(b, &items); err != nil {
			t.Fatalf("poll body %q: %v", b, err)
		}
		for _, it := range items {
			for _, v := range it.Values {
				var s string
				if json.Unmarshal(v, &s) != nil {
					s = string(v)
				}
				seen = append(seen, s)
			}
		}
		if containsAll(seen, want) {
			return seen
		}
	}
	t.Fatalf("consumer %s saw %q within %s, want all of %q", id, seen, within, want)
	return nil
}

func containsAll(have, want []string) bool {
	set := map[string]bool{}
	for _, h := range have {
		set[h] = true
	}
	for _, w := range want {
		if !set[w] {
			return false
		}
	}
	return true
}

// TestKilledPolarStreamsProduceSurvives is spec/polarstreams.md §8 case 20:
// produce → 200, kill the process (no graceful stop), restart → the event
// is returned to a startFromEarliest group.
func TestKilledPolarStreamsProduceSurvives(t *testing.T) {
	dir := t.TempDir()
	p := startWeir(t, dir)
	p.expect("POST", "/v1/topic/durable/messages", []byte("acked-before-kill"), 200)
	p.expect("POST", "/v1/topic/durable/messages?partitionKey=k1", []byte(`{"n":2}`), 200)
	p.kill()

	p = startWeir(t, dir)
	p.expect("PUT", "/v1/consumer/register?consumerId=c1&group=g1&topic=durable&onNewGroup=startFromEarliest", nil, 200)
	seen := pollUntil(t, p, "c1", []string{"acked-before-kill", `{"n":2}`}, 30*time.Second)
	if len(seen) != 2 {
		t.Errorf("events after restart: %q, want exactly the two acknowledged ones", seen)
	}
	p.term(30 * time.Second)
}

// TestKilledCDAPSendSurvives is spec/cdap-streams.md §12 case 35: send →
// 200; kill -9 the process; restart → the events read returns the event.
func TestKilledCDAPSendSurvives(t *testing.T) {
	dir := t.TempDir()
	p := startWeir(t, dir)
	p.expect("PUT", "/v3/namespaces/default/streams/s35", nil, 200)
	p.expect("POST", "/v3/namespaces/default/streams/s35", []byte("sent-before-kill"), 200)
	p.kill()

	p = startWeir(t, dir)
	b := p.expect("GET", "/v3/namespaces/default/streams/s35/events", nil, 200)
	var events []struct {
		Timestamp int64             `json:"timestamp"`
		Headers   map[string]string `json:"headers"`
		Body      string            `json:"body"`
	}
	if err := json.Unmarshal(b, &events); err != nil {
		t.Fatalf("events body %q: %v", b, err)
	}
	if len(events) != 1 || events[0].Body != "sent-before-kill" || events[0].Timestamp <= 0 {
		t.Fatalf("events after restart: %+v, want the one sent event", events)
	}
	p.term(30 * time.Second)
}

// TestSIGTERMDrainsAndKeepsData stops weir gracefully with an async CDAP
// send still possibly queued: exit 0 within the shutdown timeout, the lock
// is released (a new process starts at once) and the data is there.
func TestSIGTERMDrainsAndKeepsData(t *testing.T) {
	dir := t.TempDir()
	p := startWeir(t, dir)
	p.expect("PUT", "/v3/namespaces/default/streams/graceful", nil, 200)
	p.expect("POST", "/v3/namespaces/default/streams/graceful", []byte("sync-1"), 200)
	p.expect("POST", "/v3/namespaces/default/streams/graceful/async", []byte("async-2"), 202)
	p.expect("POST", "/v1/topic/graceful-ps/messages", []byte("produced-3"), 200)
	p.term(30 * time.Second)

	p = startWeir(t, dir)
	b := p.expect("GET", "/v3/namespaces/default/streams/graceful/events", nil, 200)
	for _, want := range []string{"sync-1", "async-2"} {
		if !bytes.Contains(b, []byte(`"body":"`+want+`"`)) {
			t.Errorf("after SIGTERM and restart, events lack %s: %s", want, b)
		}
	}
	p.expect("PUT", "/v1/consumer/register?consumerId=g&topic=graceful-ps&onNewGroup=startFromEarliest", nil, 200)
	pollUntil(t, p, "g", []string{"produced-3"}, 30*time.Second)
	p.term(30 * time.Second)
}

// TestKilledStreamCreateSurvives is spec/benthos-streams.md §4 case 57:
// POST /streams/k1 (fixture G) → E200; SIGKILL weir at once; restart → GET
// /streams/k1 → 200 with config G.
func TestKilledStreamCreateSurvives(t *testing.T) {
	const g = "input:\n  generate:\n    interval: 50ms\n    mapping: 'root = {\"n\":counter()}'\n" +
		"pipeline:\n  processors:\n    - mapping: 'root.doubled = this.n * 2'\n" +
		"output:\n  drop: {}\n"
	dir := t.TempDir()
	p := startWeir(t, dir)
	code, h, b := p.do("POST", "/streams/k1", "application/yaml", []byte(g))
	if code != 200 || len(b) != 0 || h.Get("Content-Length") != "0" {
		t.Fatalf("POST /streams/k1 → %d %q (Content-Length %q), want E200", code, b, h.Get("Content-Length"))
	}
	p.kill()

	p = startWeir(t, dir)
	var got struct {
		Config map[string]any `json:"config"`
	}
	if err := json.Unmarshal(p.expect("GET", "/streams/k1", nil, 200), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"input":    map[string]any{"generate": map[string]any{"interval": "50ms", "mapping": `root = {"n":counter()}`}},
		"pipeline": map[string]any{"processors": []any{map[string]any{"mapping": "root.doubled = this.n * 2"}}},
		"output":   map[string]any{"drop": map[string]any{}},
	}
	if !reflect.DeepEqual(got.Config, want) {
		t.Fatalf("config after SIGKILL and restart:\n%v\nwant\n%v", got.Config, want)
	}
	p.term(30 * time.Second)
}

// TestSIGTERMReleasesParkedPoll: a PolarStreams poll parked for 30s must not
// hold up a graceful stop, and gets an answer rather than a reset. SIGTERM with server.shutdown_timeout 5s answers the
// poll and exits 0 well before the poll's own wait would end.
func TestSIGTERMReleasesParkedPoll(t *testing.T) {
	root := t.TempDir()
	cfg := filepath.Join(root, "weir.yaml")
	if err := os.WriteFile(cfg, []byte("server:\n  shutdown_timeout: 5s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startWeir(t, filepath.Join(root, "data"), "-c", cfg)

	// One event, read by a first poll; the second poll then auto-commits
	// it before parking. The committed offset, visible through the admin
	// API, proves the server has read the second poll and is holding it.
	p.expect("POST", "/v1/topic/quiet/messages?partitionKey=k", []byte("one"), 200)
	p.expect("PUT", "/v1/consumer/register?consumerId=w&group=gw&topic=quiet&onNewGroup=startFromEarliest", nil, 200)
	pollUntil(t, p, "w", []string{"one"}, 30*time.Second)

	type answer struct {
		code int
		err  error
	}
	answered := make(chan answer, 1)
	go func() {
		resp, err := client.Post(p.base+"/v1/consumer/poll?consumerId=w&wait=30s", "", nil)
		if err != nil {
			answered <- answer{err: err}
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		answered <- answer{code: resp.StatusCode}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !committedOne(t, p) {
		if time.Now().After(deadline) {
			t.Fatal("the second poll never auto-committed the first one's event")
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case a := <-answered:
		t.Fatalf("the 30s poll answered before SIGTERM: %d %v", a.code, a.err)
	default:
	}

	begun := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(7 * time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM:\n%s", code, p.output())
	}
	took := time.Since(begun)
	a := <-answered
	if a.err != nil || (a.code != 204 && a.code != 503) {
		t.Fatalf("parked poll answered %d %v, want 204 or 503 before the process ended", a.code, a.err)
	}
	if took > 6*time.Second {
		t.Fatalf("graceful stop took %s with shutdown_timeout 5s", took)
	}
	t.Logf("stopped in %s with a parked poll (answered %d)", took, a.code)
}

// committedOne reports whether group gw has committed offset 1 on some
// partition of topic quiet.
func committedOne(t *testing.T, p *proc) bool {
	var g struct {
		Partitions []struct {
			Topic     string `json:"topic"`
			Committed int64  `json:"committed"`
		} `json:"partitions"`
	}
	if err := json.Unmarshal(p.expect("GET", "/weir/v1/namespaces/default/groups/gw", nil, 200), &g); err != nil {
		t.Fatal(err)
	}
	for _, part := range g.Partitions {
		if part.Topic == "quiet" && part.Committed == 1 {
			return true
		}
	}
	return false
}

// BenchmarkServeStartup measures a cold `weir serve` on an empty data
// directory: process start to the first answered /ping (ns/op; the figure in
// docs/benchmarks.md). Shutdown is not timed.
func BenchmarkServeStartup(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := b.TempDir()
		b.StartTimer()
		p := startWeir(b, dir)
		p.expect("GET", "/ping", nil, 200)
		b.StopTimer()
		p.term(30 * time.Second)
		b.StartTimer()
	}
}
