package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/weirflow/weir/actors"
	"github.com/weirflow/weir/config"
)

// runWeirRun runs `weir run` with a fresh data directory under dir and
// returns its exit code and stderr (weir's JSON logs and any findings).
func runWeirRun(t *testing.T, dir string, args ...string) (int, string) {
	t.Helper()
	var so, se bytes.Buffer
	full := append([]string{"weir", "run", "--addr", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data")}, args...)
	code := Run(context.Background(), full, &so, &se)
	return code, se.String()
}

// TestRunFullBenthosConfig runs full Benthos configs, as `benthos -c` takes
// them, through `weir run` and checks what the pipeline wrote.
func TestRunFullBenthosConfig(t *testing.T) {
	t.Setenv("WEIR_T_RUN_SUFFIX", "-env")
	cases := []struct {
		name string
		// conf is the pipeline; OUT is replaced by the output file's path.
		conf string
		want string
		// logs must (not) contain these substrings.
		logsHave, logsLack []string
	}{
		{
			name: "cache resource, cache processor, logger WARN, env interpolation",
			conf: `logger:
  level: WARN
  format: json
  static_fields:
    '@service': weir-test
http:
  address: 0.0.0.0:4195
shutdown_timeout: 5s
cache_resources:
  - label: mem
    memory: {}
input:
  generate:
    count: 3
    interval: ""
    mapping: 'root = "n%d".format(counter())'
pipeline:
  threads: 1
  processors:
    - cache:
        resource: mem
        operator: set
        key: '${! content() }'
        value: 'v-${! content() }${WEIR_T_RUN_SUFFIX}${WEIR_T_RUN_UNSET:-dflt}'
    - cache:
        resource: mem
        operator: get
        key: '${! content() }'
output:
  file:
    path: OUT
    codec: lines
`,
			want: "v-n1-env-dflt\nv-n2-env-dflt\nv-n3-env-dflt\n",
			// logger.level WARN silences weir's info lines.
			logsLack: []string{`"level":"info"`},
		},
		{
			name: "processor, rate limit and input resources, metrics section",
			conf: `metrics:
  prometheus: {}
tracer:
  none: {}
rate_limit_resources:
  - label: fast
    local:
      count: 1000
      interval: 1s
processor_resources:
  - label: upper
    mapping: 'root = content().uppercase()'
input_resources:
  - label: gen
    generate:
      count: 2
      interval: ""
      mapping: 'root = "r%d".format(counter())'
input:
  resource: gen
pipeline:
  threads: 1 # the default (one per CPU) may reorder the two messages
  processors:
    - rate_limit:
        resource: fast
    - resource: upper
output:
  file:
    path: OUT
    codec: lines
`,
			want:     "R1\nR2\n",
			logsHave: []string{`"section":"metrics"`},
		},
		{
			name: "output resource",
			conf: `output_resources:
  - label: out
    file:
      path: OUT
      codec: lines
input:
  generate:
    count: 1
    interval: ""
    mapping: 'root = "only"'
output:
  resource: out
`,
			want: "only\n",
		},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out.txt")
			p := writeFile(t, dir, "pipe.yaml", strings.ReplaceAll(c.conf, "OUT", out))
			code, logs := runWeirRun(t, dir, p)
			if code != 0 {
				t.Fatalf("case %d: exit %d: %s", i, code, logs)
			}
			b, err := os.ReadFile(out)
			if err != nil || string(b) != c.want {
				t.Fatalf("output %q %v; want %q", b, err, c.want)
			}
			for _, s := range c.logsHave {
				if !strings.Contains(logs, s) {
					t.Errorf("logs lack %q:\n%s", s, logs)
				}
			}
			for _, s := range c.logsLack {
				if strings.Contains(logs, s) {
					t.Errorf("logs have %q:\n%s", s, logs)
				}
			}
		})
	}
}

// TestRunLoggerSettings pins how the file's logger maps onto weir's logger:
// the level and static fields apply, --log-level wins over the file.
func TestRunLoggerSettings(t *testing.T) {
	conf := "logger:\n  level: DEBUG\n  format: json\n  static_fields:\n    '@service': svc-x\n" +
		"input:\n  generate:\n    count: 1\n    interval: \"\"\n    mapping: root = 1\noutput:\n  drop: {}\n"
	dir := t.TempDir()
	p := writeFile(t, dir, "pipe.yaml", conf)
	code, logs := runWeirRun(t, dir, p)
	if code != 0 || !strings.Contains(logs, `"level":"debug"`) || !strings.Contains(logs, `"@service":"svc-x"`) {
		t.Fatalf("logger.level DEBUG: exit %d, logs:\n%s", code, logs)
	}
	code, logs = runWeirRun(t, dir, "--log-level", "error", p)
	if code != 0 || logs != "" {
		t.Fatalf("--log-level error must win over logger.level: exit %d, logs:\n%s", code, logs)
	}
}

// TestRunWeirOutputToTopic runs a pipeline that writes to a weir topic,
// then reads the topic back through the engine after weir run exited.
func TestRunWeirOutputToTopic(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "to_topic.yaml", `logger:
  level: ERROR
input:
  generate:
    count: 5
    interval: ""
    mapping: 'root = "e%d".format(counter())'
output:
  weir:
    topic: events
    partition_key: '${! content() }'
`)
	if code, logs := runWeirRun(t, dir, p); code != 0 {
		t.Fatalf("exit %d: %s", code, logs)
	}
	cfg := config.Default()
	cfg.Storage.DataDir = filepath.Join(dir, "data")
	e, err := actors.Start(actors.Options{Config: cfg, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := e.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	ctx := context.Background()
	info, err := e.GetTopic(ctx, config.DefaultNamespace, "events")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, pi := range info.Partitions {
		res, err := e.Fetch(ctx, config.DefaultNamespace, "events", pi.Partition, 0, 100, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range res.Events {
			if string(ev.Key) != string(ev.Body) {
				t.Errorf("event %q has key %q, want its body", ev.Body, ev.Key)
			}
			got = append(got, string(ev.Body))
		}
	}
	sort.Strings(got)
	if strings.Join(got, ",") != "e1,e2,e3,e4,e5" {
		t.Fatalf("topic holds %v", got)
	}
}

// TestRunRefusals: lint findings stop weir run with exit 1 and the findings
// on stderr (benthos -c's strict default), --chilled runs anyway; a config
// that does not parse never runs.
func TestRunRefusals(t *testing.T) {
	t.Setenv("WEIR_T_RUN_MISSING", "x")
	if err := os.Unsetenv("WEIR_T_RUN_MISSING"); err != nil {
		t.Fatal(err)
	}
	const tail = "input:\n  generate:\n    count: 1\n    interval: \"\"\n    mapping: root = \"x\"\noutput:\n  drop: {}\n"
	cases := []struct {
		name, conf string
		chilled    bool
		code       int
		stderr     string // substring; FILE is replaced by the file's path
	}{
		{"unknown top-level key", "nope: 1\n" + tail, false, 1, "FILE(1,1) field nope not recognised\n"},
		{"unknown top-level key chilled", "nope: 1\n" + tail, true, 0, `"lint":"FILE(1,1) field nope not recognised"`},
		// Benthos v4.27.0 has *_resources lists but no `resources` key.
		{"resources key", "resources: {}\n" + tail, false, 1, "FILE(1,1) field resources not recognised\n"},
		{"lint inside a resource", "cache_resources:\n  - label: c\n    memory:\n      nope: 1\n" + tail, false, 1, "FILE(4,1) field nope not recognised\n"},
		{"unknown logger field", "logger:\n  level: INFO\n  nope: 1\n" + tail, false, 1, "FILE(3,1) field nope not recognised\n"},
		{"missing env var", "input:\n  generate:\n    count: 1\n    interval: \"\"\n    mapping: root = \"${WEIR_T_RUN_MISSING}\"\noutput:\n  drop: {}\n", false, 1,
			"FILE(1,1) required environment variables were not set: [WEIR_T_RUN_MISSING]\n"},
		{"missing env var chilled", "input:\n  generate:\n    count: 1\n    interval: \"\"\n    mapping: root = \"${WEIR_T_RUN_MISSING}\"\noutput:\n  drop: {}\n", true, 0, ""},
		{"parse error even chilled", "input:\n  not_real: {}\noutput:\n  drop: {}\n", true, 1, "FILE(2,1) unable to infer input type from candidates: [not_real]\n"},
		{"bad shutdown_timeout", "shutdown_timeout: soon\n" + tail, false, 1, `shutdown_timeout: invalid duration "soon"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			p := writeFile(t, dir, "p.yaml", c.conf)
			args := []string{p}
			if c.chilled {
				args = []string{"--chilled", p}
			}
			code, stderr := runWeirRun(t, dir, args...)
			if want := strings.ReplaceAll(c.stderr, "FILE", p); code != c.code || !strings.Contains(stderr, want) {
				t.Fatalf("exit %d, stderr:\n%s\nwant exit %d and %q", code, stderr, c.code, want)
			}
			if c.code != 0 {
				// A refused file never started the engine.
				if _, err := os.Stat(filepath.Join(dir, "data")); !os.IsNotExist(err) {
					t.Errorf("data dir created for a refused file: %v", err)
				}
			}
		})
	}
}

// TestRunHTTPEnabled: http.enabled: true opens http.address with the
// pipeline's endpoints at its root (an http_server input at /post), as
// benthos -c serves them; weir's main listener stays as it was.
func TestRunHTTPEnabled(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	p := writeFile(t, dir, "web.yaml", "http:\n  enabled: true\n  address: 127.0.0.1:0\n"+
		"input:\n  http_server:\n    path: /post\noutput:\n  file:\n    path: "+out+"\n    codec: lines\n")
	var se syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"weir", "run", "--addr", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"), p}, &bytes.Buffer{}, &se)
	}()
	addrRe := regexp.MustCompile(`\{[^\n]*"addr":"([^"]+)"[^\n]*serving the pipeline's endpoints[^\n]*\}`)
	var addr string
	waitFor(t, func() bool {
		m := addrRe.FindStringSubmatch(se.String())
		if m != nil {
			addr = m[1]
		}
		return addr != ""
	})
	var line map[string]any
	if err := json.Unmarshal([]byte(addrRe.FindString(se.String())), &line); err != nil || line["stream"] != "web" {
		t.Fatalf("listener log line %v %v", line, err)
	}
	waitFor(t, func() bool {
		resp, err := http.Post("http://"+addr+"/post", "text/plain", strings.NewReader("hello"))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	waitFor(t, func() bool {
		b, _ := os.ReadFile(out)
		return string(b) == "hello\n"
	})
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, se.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("weir run did not stop")
	}
}
