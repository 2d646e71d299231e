package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ucli "github.com/urfave/cli/v2"

	"github.com/weirflow/weir/config"
)

// runLoad runs the real app with one extra command that takes ServerFlags and
// records what LoadConfig made of them.
func runLoad(t *testing.T, args ...string) (config.Config, int, string) {
	t.Helper()
	var got config.Config
	probe := &ucli.Command{
		Name:  "probe",
		Flags: ServerFlags(),
		Action: func(c *ucli.Context) error {
			cfg, err := LoadConfig(c)
			got = cfg
			return err
		},
	}
	var stdout, stderr bytes.Buffer
	app := NewApp(append(Commands(), probe), &stdout, &stderr)
	code := 0
	if err := app.RunContext(context.Background(), append([]string{"weir", "probe"}, args...)); err != nil {
		stderr.WriteString("weir: " + err.Error() + "\n")
		code = 1
	}
	return got, code, stderr.String()
}

func writeWeirYAML(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "weir.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadConfigPrecedence(t *testing.T) {
	file := writeWeirYAML(t, "server:\n  addr: 127.0.0.1:7000\nstorage:\n  data_dir: /from/file\n  default_partitions: 2\nlog:\n  level: warn\n")

	// No file, no flags: the defaults.
	cfg, code, errOut := runLoad(t)
	if code != 0 || cfg.Server.Addr != "127.0.0.1:4195" || cfg.Storage.DataDir != "./weir-data" {
		t.Fatalf("defaults: code %d %q %+v", code, errOut, cfg.Server)
	}

	// The file overrides the defaults (-c and --config are the same flag).
	for _, flag := range []string{"-c", "--config"} {
		cfg, code, errOut = runLoad(t, flag, file)
		if code != 0 || cfg.Server.Addr != "127.0.0.1:7000" || cfg.Storage.DataDir != "/from/file" ||
			cfg.Storage.DefaultPartitions != 2 || cfg.Log.Level != "warn" {
			t.Fatalf("%s FILE: code %d %q %+v %+v", flag, code, errOut, cfg.Server, cfg.Storage)
		}
	}

	// Flags override the file; keys without a flag keep the file's value.
	cfg, code, errOut = runLoad(t, "-c", file, "--addr", "127.0.0.1:0", "--data-dir", "/from/flag", "--log-level", "DEBUG")
	if code != 0 || cfg.Server.Addr != "127.0.0.1:0" || cfg.Storage.DataDir != "/from/flag" ||
		cfg.Log.Level != "debug" || cfg.Storage.DefaultPartitions != 2 {
		t.Fatalf("flags: code %d %q %+v %+v %+v", code, errOut, cfg.Server, cfg.Storage, cfg.Log)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	bad := writeWeirYAML(t, "server:\n  addr: nowhere\n")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"bad flag value names the flag", []string{"--addr", "nowhere"}, "server.addr (--addr): must be host:port"},
		{"bad level flag", []string{"--log-level", "loud"}, `log.level (--log-level): must be one of trace, debug, info, warn, error, got "loud"`},
		{"bad file value names key and line", []string{"-c", bad}, "server.addr (line 2): must be host:port"},
		{"missing file", []string{"-c", filepath.Join(t.TempDir(), "nope.yaml")}, "no such file or directory"},
	}
	for _, tc := range cases {
		_, code, errOut := runLoad(t, tc.args...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: code %d, stderr %q; want it to contain %q", tc.name, code, errOut, tc.want)
		}
	}
	// A flag repairs a bad value in the file.
	if cfg, code, errOut := runLoad(t, "-c", bad, "--addr", "127.0.0.1:1"); code != 0 || cfg.Server.Addr != "127.0.0.1:1" {
		t.Errorf("flag over a bad file value: code %d %q", code, errOut)
	}
}

func TestRunUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"weir", "bogus"}, 2, `unknown command "bogus"`},
		{[]string{"weir", "serve", "--no-such-flag"}, 2, "flag provided but not defined: -no-such-flag"},
		{[]string{"weir", "serve", "--addr", "x"}, 1, "server.addr (--addr)"},
		{[]string{"weir", "serve", "-c", "/nonexistent/weir.yaml"}, 1, "read config"},
	}
	for _, tc := range cases {
		var stdout, stderr bytes.Buffer
		code := Run(context.Background(), tc.args, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d stderr %q; want exit %d and %q", tc.args, code, stderr.String(), tc.code, tc.want)
		}
	}

	var stdout, stderr bytes.Buffer
	if code := Run(context.Background(), []string{"weir", "--help"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "serve") {
		t.Errorf("--help: exit %d, stdout %q", code, stdout.String())
	}
	stdout.Reset()
	if code := Run(context.Background(), []string{"weir", "serve", "--help"}, &stdout, &stderr); code != 0 {
		t.Errorf("serve --help: exit %d", code)
	}
	for _, flag := range []string{"--config", "-c", "--addr", "--data-dir", "--log-level"} {
		if !strings.Contains(stdout.String(), flag) {
			t.Errorf("serve --help does not list %s:\n%s", flag, stdout.String())
		}
	}
}

func TestNewLogger(t *testing.T) {
	var buf bytes.Buffer
	log, err := NewLogger(config.LogConfig{Level: "info", Format: "auto"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Debug().Msg("hidden")
	log.Info().Str("addr", "127.0.0.1:1").Msg("listening")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("auto on a non-terminal must write JSON lines: %v: %q", err, buf.String())
	}
	if line["addr"] != "127.0.0.1:1" || line["message"] != "listening" || line["level"] != "info" || line["time"] == nil {
		t.Fatalf("log line %v", line)
	}

	buf.Reset()
	log, err = NewLogger(config.LogConfig{Level: "debug", Format: "console"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Debug().Str("topic", "t").Msg("shown")
	if out := buf.String(); strings.HasPrefix(out, "{") || !strings.Contains(out, "shown") || !strings.Contains(out, "topic=t") {
		t.Fatalf("console output %q", out)
	}

	for _, bad := range []config.LogConfig{{Level: "loud", Format: "json"}, {Level: "", Format: "json"}, {Level: "info", Format: "xml"}} {
		if _, err := NewLogger(bad, &buf); err == nil {
			t.Errorf("NewLogger(%+v) accepted", bad)
		}
	}
}

func TestBuildInfo(t *testing.T) {
	old, oldBuilt := Version, Built
	t.Cleanup(func() { Version, Built = old, oldBuilt })
	Version, Built = "v9.9.9", "2025-01-01T00:00:00Z"
	if v, b := BuildInfo(); v != "v9.9.9" || b != "2025-01-01T00:00:00Z" {
		t.Fatalf("ldflags values ignored: %q %q", v, b)
	}
	Version, Built = "", ""
	if v, b := BuildInfo(); v == "" || b == "" {
		t.Fatalf("fallbacks empty: %q %q", v, b)
	}
}
