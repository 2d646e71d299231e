package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/weirflow/weir/config"
)

var update = flag.Bool("update", false, "rewrite the golden files of the CLI tests")

// startTestWeir runs a real weir (engine + HTTP, the serve path) on a free
// loopback port with its own data directory and returns its base URL.
func startTestWeir(t *testing.T) string {
	t.Helper()
	cfg := config.Default()
	cfg.Server.Addr = "127.0.0.1:0"
	cfg.Storage.DataDir = t.TempDir()
	cfg.Server.ShutdownTimeout = config.Duration(10 * time.Second)
	s, err := Start(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("weir shutdown: %v", err)
		}
	})
	return "http://" + s.Addr().String()
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
	{regexp.MustCompile(`(?m)^ID: +\S+$`), "ID:          <id>"},
	{regexp.MustCompile(`"(last_timestamp|timestamp)": ?\d+`), `"$1": <µs>`},
	{regexp.MustCompile(`"seconds": [0-9.e-]+`), `"seconds": <s>`},
	{regexp.MustCompile(`@\d{13}\b`), `@<ms>`},
	{regexp.MustCompile(`\S*/events\.txt`), `<tmp>/events.txt`},
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
