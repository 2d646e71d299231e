package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/weirflow/weir/actors"
	"github.com/weirflow/weir/config"
	api "github.com/weirflow/weir/http"
)

var update = flag.Bool("update", false, "rewrite the golden files of the CLI tests")

// startTestWeir runs a real weir on a free loopback port with its own data
// directory: the engine, the streams manager and the HTTP server, wired as
// the serve command wires them. It returns the base URL.
func startTestWeir(t *testing.T) string {
	t.Helper()
	cfg := config.Default()
	cfg.Server.Addr = "127.0.0.1:0"
	cfg.Storage.DataDir = t.TempDir()
	cfg.Server.ShutdownTimeout = config.Duration(10 * time.Second)
	log := zerolog.Nop()
	eng, err := actors.Start(actors.Options{Config: cfg, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	streams, err := actors.NewStreams(eng, actors.StreamsOptions{StopTimeout: 5 * time.Second})
	if err != nil {
		_ = eng.Stop(context.Background())
		t.Fatal(err)
	}
	srv := api.New(api.Options{Config: cfg, Engine: eng, Streams: streams, Usage: streams, Metrics: eng.MetricsHandler(), Logger: log, Version: "test"})
	ln, err := srv.Listen()
	if err != nil {
		_ = streams.Close(context.Background())
		_ = eng.Stop(context.Background())
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
		if err := streams.Close(context.Background()); err != nil {
			t.Errorf("stop streams: %v", err)
		}
		if err := eng.Stop(context.Background()); err != nil {
			t.Errorf("stop engine: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// runCLI runs weir's real command tree in-process, as Run does, with stdin.
func runCLI(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	app := NewApp(Commands(), &out, &errb)
	app.Reader = strings.NewReader(stdin)
	if err := app.RunContext(context.Background(), append([]string{"weir"}, args...)); err != nil {
		fmt.Fprintf(&errb, "weir: %v\n", err)
		code = 1
		var ue usageError
		if errors.As(err, &ue) {
			code = 2
		}
	}
	return out.String(), errb.String(), code
}

// volatile values that differ per run; the golden files hold placeholders.
var volatile = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`), "<TIME>"},
	{regexp.MustCompile(`"id": "[^"]*",(\s+)"created": "[^"]*"`), `"id": "<id>",$1"created": "<created>"`},
	{regexp.MustCompile(`(?m)^ID:          \S+$`), "ID:          <id>"},
	{regexp.MustCompile(`"(last_timestamp|timestamp)": ?\d+`), `"$1": <µs>`},
	{regexp.MustCompile(`"seconds": [0-9.e-]+`), `"seconds": <s>`},
	{regexp.MustCompile(`@\d{13}\b`), `@<ms>`},
	{regexp.MustCompile(`\S*/Test[A-Za-z]+\d+/\d+/`), `<tmp>/`},
	{regexp.MustCompile(`"uptime_str": "[^"]*"`), `"uptime_str": "<uptime>"`},
	{regexp.MustCompile(`"uptime": [0-9.e-]+`), `"uptime": <uptime>`},
	{regexp.MustCompile(`(?m)^(Uptime: +)\S+$`), `$1<uptime>`},
	{regexp.MustCompile(`127\.0\.0\.1:\d+`), "127.0.0.1:<port>"},
}

func normalize(s string) string {
	for _, v := range volatile {
		s = v.re.ReplaceAllString(s, v.repl)
	}
	return s
}

// cliCase is one command of a scenario; its golden file holds the command,
// stdout, stderr and exit code.
type cliCase struct {
	name  string
	stdin string
	args  []string
	// setup runs first (e.g. a raw HTTP call the CLI has no command for).
	setup func(t *testing.T, url string)
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "cli", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from %s\n--- got ---\n%s\n--- want ---\n%s", name, path, got, want)
	}
}

func runCases(t *testing.T, url string, cases []cliCase) {
	t.Helper()
	for _, c := range cases {
		if c.setup != nil {
			c.setup(t, url)
		}
		args := c.args
		if len(args) > 0 && args[0] != "--help" {
			// --url goes after the (sub)command words, before any argument.
			args = withURL(args, url)
		}
		stdout, stderr, code := runCLI(t, c.stdin, args...)
		got := fmt.Sprintf("$ weir %s\n%s--- stderr\n%s--- exit %d\n", shellJoin(c.args), stdout, stderr, code)
		checkGolden(t, c.name, normalize(got))
	}
}

// withURL inserts --url after the command words (the leading args without
// a dash that name commands).
func withURL(args []string, url string) []string {
	words := map[string]int{"topic": 2, "group": 2, "stream": 2, "bench": 2, "produce": 1, "consume": 1}
	n := words[args[0]]
	if n == 0 || len(args) < n {
		return args
	}
	out := append([]string{}, args[:n]...)
	out = append(out, "--url", url)
	return append(out, args[n:]...)
}

func httpDo(t *testing.T, method, url string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %s", method, url, resp.Status)
	}
}

func TestCLIGolden(t *testing.T) {
	url := startTestWeir(t)
	input := filepath.Join(t.TempDir(), "events.txt")
	if err := os.WriteFile(input, []byte("f1\nf2\r\n\nf3"), 0o644); err != nil {
		t.Fatal(err)
	}
	future := fmt.Sprintf("@%d", time.Now().Add(time.Hour).UnixMilli())
	runCases(t, url, []cliCase{
		{name: "topic-list-empty", args: []string{"topic", "list"}},
		{name: "topic-create", args: []string{"topic", "create", "--partitions", "3", "--ttl", "72h", "--description", "web orders", "orders"}},
		{name: "topic-create-exists", args: []string{"topic", "create", "orders"}},
		{name: "topic-create-invalid", args: []string{"topic", "create", "no/slash"}},
		{name: "topic-create-single", args: []string{"topic", "create", "--partitions", "1", "single"}},
		{name: "topic-create-usage", args: []string{"topic", "create"}},
		{name: "topic-create-bad-ttl", args: []string{"topic", "create", "--ttl", "soon", "x"}},
		{name: "produce-key", stdin: "a\nb\n\nc\n", args: []string{"produce", "--key", "123", "orders"}},
		{name: "produce-files-json", args: []string{"produce", "--json", "orders", input}},
		{name: "produce-header", stdin: "h1\nh2\n", args: []string{"produce", "--header", "src=web", "orders"}},
		{name: "produce-missing-namespace", stdin: "x\n", args: []string{"produce", "-N", "nope", "orders"}},
		{name: "produce-key-and-header", stdin: "x\n", args: []string{"produce", "--key", "k", "--header", "a=b", "orders"}},
		{name: "produce-single", stdin: "s0\ns1\ns2\ns3\ns4\n", args: []string{"produce", "single"}},
		{name: "topic-list", args: []string{"topic", "list"}},
		{name: "topic-list-json", args: []string{"topic", "list", "--json"}},
		{name: "topic-describe", args: []string{"topic", "describe", "orders"}},
		{name: "topic-describe-json", args: []string{"topic", "describe", "--json", "single"}},
		{name: "topic-describe-missing", args: []string{"topic", "describe", "nope"}},
		{name: "consume-count", args: []string{"consume", "-n", "2", "orders"}},
		{name: "consume-all-format", args: []string{"consume", "--format", `{{.Partition}}/{{.Offset}} key={{.Key}} {{.Value}} {{index .Headers "src"}}`, "orders"}},
		{name: "consume-json", args: []string{"consume", "--json", "-n", "1", "single"}},
		{name: "consume-latest", args: []string{"consume", "--from", "latest", "orders"}},
		{name: "consume-future", args: []string{"consume", "--from", future, "orders"}},
		{name: "consume-from-epoch", args: []string{"consume", "--from", "@0", "single"}},
		{name: "consume-bad-from", args: []string{"consume", "--from", "yesterday", "orders"}},
		{name: "consume-missing", args: []string{"consume", "nope"}},
		{name: "consume-group-partial", args: []string{"consume", "--group", "g1", "-n", "2", "single"}},
		{name: "group-describe-after-partial", args: []string{"group", "describe", "g1"}},
		{name: "consume-group-rest", args: []string{"consume", "--group", "g1", "--format", "{{.Offset}} {{.Value}}", "single"}},
		{name: "consume-group-again", args: []string{"consume", "--group", "g1", "single"}},
		{name: "consume-group-time", args: []string{"consume", "--group", "g1", "--from", "@0", "single"}},
		{name: "group-describe-member", args: []string{"group", "describe", "g2"}, setup: func(t *testing.T, url string) {
			httpDo(t, http.MethodPut, url+"/v1/consumer/register?consumerId=c1&group=g2&topic=single&onNewGroup=startFromEarliest")
		}},
		{name: "group-list", args: []string{"group", "list"}},
		{name: "group-list-json", args: []string{"group", "list", "--json"}},
		{name: "group-describe-json", args: []string{"group", "describe", "--json", "g2"}},
		{name: "group-describe-missing", args: []string{"group", "describe", "nope"}},
		{name: "topic-truncate", args: []string{"topic", "truncate", "single"}},
		{name: "topic-describe-truncated", args: []string{"topic", "describe", "single"}},
		{name: "topic-delete", args: []string{"topic", "delete", "orders"}},
		{name: "topic-delete-missing", args: []string{"topic", "delete", "orders"}},
		{name: "topic-list-other-namespace", args: []string{"topic", "list", "-N", "nope"}},
	})

	// A weir that is not there: the error names the address, exit 1.
	stdout, stderr, code := runCLI(t, "", "topic", "list", "--url", "http://127.0.0.1:1")
	if code != 1 || stdout != "" || !strings.Contains(stderr, "127.0.0.1:1") || !strings.Contains(stderr, "connection refused") {
		t.Fatalf("unreachable server: code %d stdout %q stderr %q", code, stdout, stderr)
	}
	// WEIR_URL is the default of --url.
	t.Setenv("WEIR_URL", url)
	stdout, _, code = runCLI(t, "", "topic", "list")
	if code != 0 || !strings.Contains(stdout, "single") {
		t.Fatalf("WEIR_URL: code %d stdout %q", code, stdout)
	}
}

// shellJoin shows args as a shell command line, quoting where needed.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\"'{}$\\|&;<>*?") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

const testStreamYAML = `input:
  generate:
    interval: ""
    count: 3
    mapping: 'root = {"n": counter()}'
output:
  drop: {}
`

func TestCLIStreamGolden(t *testing.T) {
	url := startTestWeir(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "gen.yaml")
	if err := os.WriteFile(file, []byte(testStreamYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("input:\n  generate:\n    mapping: root = 1\n    nope: true\noutput:\n  drop: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runCases(t, url, []cliCase{
		{name: "stream-list-empty", args: []string{"stream", "list"}},
		{name: "stream-apply-create", args: []string{"stream", "apply", file}},
		{name: "stream-apply-update", args: []string{"stream", "apply", "--json", file}},
		{name: "stream-apply-id", args: []string{"stream", "apply", "--id", "other", file}},
		{name: "stream-apply-lint", args: []string{"stream", "apply", bad}},
		{name: "stream-apply-missing-file", args: []string{"stream", "apply", filepath.Join(dir, "nope.yaml")}},
		{name: "stream-get-missing", args: []string{"stream", "get", "nope"}},
		{name: "stream-delete", args: []string{"stream", "delete", "--timeout", "5s", "other"}},
		{name: "stream-delete-missing", args: []string{"stream", "delete", "other"}},
		{name: "stream-stats-missing", args: []string{"stream", "stats", "nope"}},
	})

	// The generate stream finishes after 3 messages; wait for that so the
	// state, config and stats below are stable.
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _, code := runCLI(t, "", "stream", "get", "--url", url, "--json", "gen")
		if code == 0 && strings.Contains(out, `"state": "finished"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream gen did not finish: %s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The list table's last column is the uptime.
	uptime := regexp.MustCompile(`(?m)^(gen +(true|false) +)\S+$`)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"stream-list", []string{"stream", "list"}},
		{"stream-list-json", []string{"stream", "list", "--json"}},
		{"stream-get", []string{"stream", "get", "gen"}},
		{"stream-get-json", []string{"stream", "get", "--json", "gen"}},
	} {
		stdout, stderr, code := runCLI(t, "", withURL(c.args, url)...)
		got := fmt.Sprintf("$ weir %s\n%s--- stderr\n%s--- exit %d\n", shellJoin(c.args), stdout, stderr, code)
		checkGolden(t, c.name, uptime.ReplaceAllString(normalize(got), "$1<uptime>"))
	}
	stdout, stderr, code := runCLI(t, "", "stream", "stats", "--url", url, "gen")
	if code != 0 || !strings.Contains(stdout, `input_received{label="",path="root.input",stream="gen"}`) || !strings.Contains(stdout, "p50=") {
		t.Fatalf("stream stats: code %d\n%s%s", code, stdout, stderr)
	}
	stdout, _, code = runCLI(t, "", "stream", "stats", "--url", url, "--json", "gen")
	var stats map[string]any
	if code != 0 || json.Unmarshal([]byte(stdout), &stats) != nil || stats["uptime_ns"] == nil {
		t.Fatalf("stream stats --json: code %d\n%s", code, stdout)
	}
}

// TestBench runs each bench mode for a bounded time against a real weir and
// checks that the reports are sane: events flowed, and percentiles are
// ordered.
func TestBench(t *testing.T) {
	url := startTestWeir(t)
	check := func(r BenchReport) {
		t.Helper()
		l := r.Latency
		if r.Events <= 0 || r.EventsPerSec <= 0 || r.MBPerSec <= 0 || r.Errors != 0 || l.Count <= 0 {
			t.Fatalf("%s: not sane: %+v", r.Mode, r)
		}
		if !(0 < l.Min && l.Min <= l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max) {
			t.Fatalf("%s: percentiles out of order: %+v", r.Mode, l)
		}
	}
	stdout, stderr, code := runCLI(t, "", "bench", "produce", "--url", url, "--clients", "2", "--batch", "50", "--size", "100", "--keys", "8", "--duration", "700ms", "--json", "benchtopic")
	if code != 0 {
		t.Fatalf("bench produce: exit %d: %s", code, stderr)
	}
	var produced BenchReport
	if err := json.Unmarshal([]byte(stdout), &produced); err != nil {
		t.Fatalf("bench produce --json: %v\n%s", err, stdout)
	}
	check(produced)
	if produced.Events%50 != 0 || produced.Bytes != produced.Events*100 {
		t.Fatalf("bench produce: %d events, %d bytes: not whole batches of 100 B events", produced.Events, produced.Bytes)
	}

	// consume reads back exactly what produce wrote, from the start.
	r, err := RunBench(context.Background(), BenchOptions{Mode: "consume", URL: url, Topic: "benchtopic", Clients: 2, Consumers: 1, Duration: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	check(r)
	if r.Events != produced.Events {
		t.Fatalf("bench consume read %d events, produce wrote %d", r.Events, produced.Events)
	}

	// e2e with a rate limit: everything produced is consumed, and the rate
	// holds (700ms at 2000/s is at most ~1400 events plus one batch per client).
	r, err = RunBench(context.Background(), BenchOptions{Mode: "e2e", URL: url, Topic: "e2e", Clients: 2, Consumers: 2, Batch: 10, Size: 200, Rate: 2000, Duration: 700 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	check(r)
	if r.Consumed != r.Events || r.LatencyOf != "end_to_end" {
		t.Fatalf("bench e2e: %+v", r)
	}
	if r.Events > 1400+2*10 {
		t.Fatalf("bench e2e: %d events exceed --rate 2000 over 700ms", r.Events)
	}

	// The text report names every figure.
	stdout, _, code = runCLI(t, "", "bench", "produce", "--url", url, "--duration", "200ms", "t2")
	for _, want := range []string{"weir bench produce t2", "events/s", "MB/s", "p50", "p90", "p99", "p99.9"} {
		if code != 0 || !strings.Contains(stdout, want) {
			t.Fatalf("bench text report lacks %q (exit %d):\n%s", want, code, stdout)
		}
	}
	// Bad flags are usage errors; an unreachable server is an error.
	if _, _, code := runCLI(t, "", "bench", "produce", "--size", "10"); code != 2 {
		t.Fatalf("--size 10: exit %d, want 2", code)
	}
	if _, stderr, code := runCLI(t, "", "bench", "produce", "--url", "http://127.0.0.1:1", "--duration", "100ms"); code != 1 || !strings.Contains(stderr, "every request failed") {
		t.Fatalf("unreachable: exit %d %s", code, stderr)
	}
}

// syncBuffer is a bytes.Buffer safe to read while a command writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestConsumeFollowStopCommits is Ctrl-C on `weir consume --group --follow`:
// cancelling the command's context (what the first SIGINT does) lets the
// poll in flight finish, prints it, commits and says goodbye, so the group
// has no lag and no member left.
func TestConsumeFollowStopCommits(t *testing.T) {
	url := startTestWeir(t)
	if _, stderr, code := runCLI(t, "", "topic", "create", "--url", url, "--partitions", "2", "live"); code != 0 {
		t.Fatal(stderr)
	}
	var out, errb syncBuffer
	app := NewApp(Commands(), &out, &errb)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.RunContext(ctx, []string{"weir", "consume", "--url", url, "--group", "lg", "--follow", "--from", "latest", "live"})
	}()
	// The consumer registers with startFromLatest; wait until the group
	// exists so the events below are past its start.
	waitFor(t, func() bool {
		s, _, code := runCLI(t, "", "group", "describe", "--url", url, "--json", "lg")
		return code == 0 && strings.Contains(s, `"members": [`) && !strings.Contains(s, `"members": []`)
	})
	if _, stderr, code := runCLI(t, "e1\ne2\ne3\n", "produce", "--url", url, "live"); code != 0 {
		t.Fatal(stderr)
	}
	waitFor(t, func() bool { return strings.Count(out.String(), "\n") == 3 })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("consume after Ctrl-C: %v (stderr %s)", err, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("consume did not stop after its context was cancelled")
	}
	if got := out.String(); got != "e1\ne2\ne3\n" {
		t.Fatalf("printed %q", got)
	}
	s, stderr, code := runCLI(t, "", "group", "describe", "--url", url, "--json", "lg")
	if code != 0 || !strings.Contains(s, `"members": []`) || !strings.Contains(s, `"lag": 0`+"\n}") {
		t.Fatalf("after stop the group must have no member and no lag: %s %s", s, stderr)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
