package config

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite testdata/config/*.golden from the current output")

// TestParseGolden runs every testdata/config/NAME.yaml through Parse with the
// variables of NAME.env (KEY=VALUE lines; absent file = nothing set) and
// compares the effective configuration, or the error, with NAME.golden.
// Adding a case is adding files.
func TestParseGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "config", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 10 {
		t.Fatalf("expected the golden cases in testdata/config, found %d", len(files))
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			env := readEnv(t, strings.TrimSuffix(file, ".yaml")+".env")
			got := render(t, data, env)
			goldenPath := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(goldenPath, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(goldenPath)
			if err != nil {
				t.Fatalf("%v (run go test ./config -run TestParseGolden -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s mismatch\n--- got\n%s\n--- want\n%s", goldenPath, got, want)
			}
		})
	}
}

// render is the golden form of one Parse: the effective config as YAML, or
// "error:" and one line per field error.
func render(t *testing.T, data []byte, env map[string]string) string {
	t.Helper()
	c, err := Parse(data, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		return "error:\n" + err.Error() + "\n"
	}
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func readEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	env := map[string]string{}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return env
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			t.Fatalf("%s: line %q is not KEY=VALUE", path, sc.Text())
		}
		env[k] = v
	}
	return env
}

func TestExpandEnv(t *testing.T) {
	env := map[string]string{"A": "alpha", "EMPTY": "", "DOT.NAME": "dotted", "PORT": "9000"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cases := []struct {
		in, want, err string
	}{
		{in: "plain", want: "plain"},
		{in: "$A and $ alone", want: "$A and $ alone"},
		{in: "${A}", want: "alpha"},
		{in: "x${A}y${A}z", want: "xalphayalphaz"},
		{in: "${A:default}", want: "alpha"},
		{in: "${MISSING:default}", want: "default"},
		{in: "${MISSING:}", want: ""},
		{in: "${EMPTY:fallback}", want: "fallback"},
		{in: "${MISSING:127.0.0.1:4195}", want: "127.0.0.1:4195"},
		{in: "host:${PORT}", want: "host:9000"},
		{in: "${DOT.NAME}", want: "dotted"},
		{in: "${A}}", want: "alpha}"},
		{in: "${MISSING}", err: "environment variable MISSING is not set (or empty) and has no default"},
		{in: "${EMPTY}", err: "environment variable EMPTY is not set (or empty) and has no default"},
		{in: "${A", err: `unterminated variable reference "${A"`},
		{in: "${}", err: "invalid variable reference ${}"},
		{in: "${:x}", err: "invalid variable reference ${:x}"},
		{in: "${A B}", err: "invalid variable reference ${A B}"},
		{in: "${A-B:x}", err: "invalid variable reference ${A-B:x}"},
	}
	for _, tc := range cases {
		got, err := ExpandEnv(tc.in, lookup)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ExpandEnv(%q) error = %v, want one containing %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ExpandEnv(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestParseByteSize(t *testing.T) {
	cases := []struct {
		in   string
		want ByteSize
		err  string
	}{
		{in: "0", want: 0},
		{in: "1048576", want: MiB},
		{in: "8MiB", want: 8 * MiB},
		{in: "8 MiB", want: 8 * MiB},
		{in: "8mib", want: 8 * MiB},
		{in: "64KiB", want: 64 * KiB},
		{in: "2GiB", want: 2 * GiB},
		{in: "1TiB", want: 1 << 40},
		{in: "1KB", want: 1000},
		{in: "16MB", want: 16_000_000},
		{in: "3GB", want: 3_000_000_000},
		{in: "12B", want: 12},
		{in: " 5 KiB ", want: 5 * KiB},
		{in: "", err: "want a whole number"},
		{in: "MiB", err: "want a whole number"},
		{in: "-1", err: "want a whole number"},
		{in: "1.5MiB", err: `unknown unit ".5MiB"`},
		{in: "8XB", err: `unknown unit "XB"`},
		{in: "99999999999999999999", err: "number too large"},
		{in: "9000000TiB", err: "too large"},
	}
	for _, tc := range cases {
		got, err := ParseByteSize(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseByteSize(%q) error = %v, want one containing %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
		// The printed form parses back to the same size.
		if back, err := ParseByteSize(got.String()); err != nil || back != got {
			t.Errorf("ParseByteSize(%q.String() = %q) = %d, %v", tc.in, got.String(), back, err)
		}
	}
}

func TestByteSizeString(t *testing.T) {
	for in, want := range map[ByteSize]string{0: "0", 1: "1", 1000: "1000", KiB: "1KiB", 8 * MiB: "8MiB", 1536 * KiB: "1536KiB", 3 * GiB: "3GiB"} {
		if got := in.String(); got != want {
			t.Errorf("ByteSize(%d).String() = %q, want %q", int64(in), got, want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
		err  string
	}{
		{in: "30s", want: 30 * time.Second},
		{in: "200ms", want: 200 * time.Millisecond},
		{in: "1m30s", want: 90 * time.Second},
		{in: "0", want: 0},
		{in: " 5m ", want: 5 * time.Minute},
		{in: "30", err: "want a number with a unit"},
		{in: "soon", err: "want a number with a unit"},
		{in: "-1s", err: "must not be negative"},
	}
	for _, tc := range cases {
		got, err := ParseDuration(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseDuration(%q) error = %v, want one containing %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got.Std() != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

// TestValidateNamesField checks each rule on its own, starting from the
// defaults, so one broken setting gives exactly one error naming it.
func TestValidateNamesField(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	cases := []struct {
		field string
		edit  func(*Config)
	}{
		{"server.addr", func(c *Config) { c.Server.Addr = "127.0.0.1" }},
		{"server.addr", func(c *Config) { c.Server.Addr = "127.0.0.1:99999" }},
		{"server.addr", func(c *Config) { c.Server.Addr = "127.0.0.1:http" }},
		{"server.request_timeout", func(c *Config) { c.Server.RequestTimeout = 0 }},
		{"server.shutdown_timeout", func(c *Config) { c.Server.ShutdownTimeout = -1 }},
		{"log.level", func(c *Config) { c.Log.Level = "verbose" }},
		{"log.format", func(c *Config) { c.Log.Format = "xml" }},
		{"storage.data_dir", func(c *Config) { c.Storage.DataDir = " " }},
		{"storage.segment_size", func(c *Config) { c.Storage.SegmentSize = 64*KiB - 1 }},
		{"storage.segment_size", func(c *Config) { c.Storage.SegmentSize = 2 * GiB }},
		{"storage.default_partitions", func(c *Config) { c.Storage.DefaultPartitions = 0 }},
		{"storage.default_partitions", func(c *Config) { c.Storage.DefaultPartitions = 1025 }},
		{"storage.retention_interval", func(c *Config) { c.Storage.RetentionInterval = Duration(time.Millisecond) }},
		{"storage.max_inflight_appends", func(c *Config) { c.Storage.MaxInflightAppends = 0 }},
		{"storage.max_bytes", func(c *Config) { c.Storage.MaxBytes = -1 }},
		{"storage.max_bytes", func(c *Config) { c.Storage.MaxBytes = MiB }},
		{"cdap.max_event_size", func(c *Config) { c.CDAP.MaxEventSize = 0 }},
		{"cdap.max_batch_size", func(c *Config) { c.CDAP.MaxBatchSize = 0 }},
		{"cdap.async_queue_size", func(c *Config) { c.CDAP.AsyncQueueSize = 0 }},
		{"polarstreams.discovery_port", func(c *Config) { c.PolarStreams.DiscoveryPort = -1 }},
		{"polarstreams.consumer_port", func(c *Config) {
			c.PolarStreams.DedicatedListeners = true
			c.PolarStreams.ConsumerPort = c.PolarStreams.ProducerPort
		}},
		{"polarstreams.advertised_host", func(c *Config) { c.PolarStreams.AdvertisedHost = "h:1" }},
		{"polarstreams.max_message_size", func(c *Config) { c.PolarStreams.MaxMessageSize = 0 }},
		{"polarstreams.consumer_timeout", func(c *Config) { c.PolarStreams.ConsumerTimeout = 0 }},
		{"streams.stop_timeout", func(c *Config) { c.Streams.StopTimeout = 0 }},
		{"streams.max_body_size", func(c *Config) { c.Streams.MaxBodySize = 0 }},
	}
	for _, tc := range cases {
		c := Default()
		tc.edit(&c)
		err := c.Validate()
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field || strings.Count(err.Error(), "\n") != 0 {
			t.Errorf("%s: Validate() = %v, want exactly one error naming the field", tc.field, err)
		}
	}
	// Settings that are legal at their edges.
	c := Default()
	c.Server.Addr = ":0"
	c.Storage.SegmentSize = MinSegmentSize
	c.Storage.DefaultPartitions = MaxPartitions
	c.Storage.MaxBytes = MinSegmentSize
	c.PolarStreams.DedicatedListeners = true
	c.PolarStreams.DiscoveryPort, c.PolarStreams.ProducerPort, c.PolarStreams.ConsumerPort = 0, 0, 0
	if err := c.Validate(); err != nil {
		t.Errorf("edge values rejected: %v", err)
	}
}

func TestParseDoesNotAliasDefaults(t *testing.T) {
	if _, err := Parse([]byte("storage: {default_partitions: 9}\n"), nil); err != nil {
		t.Fatal(err)
	}
	if Default().Storage.DefaultPartitions != 4 {
		t.Fatal("Parse changed the defaults")
	}
}

func TestLoad(t *testing.T) {
	c, err := Load("")
	if err != nil || !reflect.DeepEqual(c, Default()) {
		t.Fatalf("Load(\"\") = %+v, %v; want the defaults", c, err)
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "weir.yaml")
	body := "server:\n  addr: ${WEIR_TEST_ADDR:127.0.0.1:1}\nstorage:\n  data_dir: ${WEIR_TEST_DIR}\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("WEIR_TEST_ADDR", "")
	t.Setenv("WEIR_TEST_DIR", dir)
	c, err = Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.Addr != "127.0.0.1:1" || c.Storage.DataDir != dir {
		t.Fatalf("Load: addr %q data_dir %q", c.Server.Addr, c.Storage.DataDir)
	}

	t.Setenv("WEIR_TEST_DIR", "")
	_, err = Load(path)
	if err == nil || !strings.Contains(err.Error(), "storage.data_dir (line 4): environment variable WEIR_TEST_DIR") ||
		!strings.Contains(err.Error(), path) {
		t.Fatalf("Load with an empty variable: %v", err)
	}

	_, err = Load(filepath.Join(dir, "missing.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load of a missing file: %v", err)
	}
}

// TestParseOverrides checks that overrides (command-line flags) win over the
// file, can repair a bad file value, and that an error about an overridden
// value does not point at the file's line.
func TestParseOverrides(t *testing.T) {
	body := []byte("server:\n  addr: nope\nlog:\n  level: loud\n")
	c, err := Parse(body, nil, func(c *Config) { c.Server.Addr = "127.0.0.1:0" }, func(c *Config) { c.Log.Level = "DEBUG" })
	if err != nil || c.Server.Addr != "127.0.0.1:0" || c.Log.Level != "debug" {
		t.Fatalf("overrides: %+v, %v", c.Server, err)
	}
	_, err = Parse(body, nil, func(c *Config) { c.Server.Addr = "still-bad" })
	want := "server.addr: must be host:port (e.g. 127.0.0.1:4195, :4195), got \"still-bad\"\n" +
		"log.level (line 4): must be one of trace, debug, info, warn, error, got \"loud\""
	if err == nil || err.Error() != want {
		t.Fatalf("got error\n%v\nwant\n%s", err, want)
	}
}

func TestYAMLUnmarshalers(t *testing.T) {
	var v struct {
		Size ByteSize `yaml:"size"`
		Wait Duration `yaml:"wait"`
	}
	if err := yaml.Unmarshal([]byte("size: 2MiB\nwait: 1m\n"), &v); err != nil {
		t.Fatal(err)
	}
	if v.Size != 2*MiB || v.Wait.Std() != time.Minute {
		t.Fatalf("got %+v", v)
	}
	if err := yaml.Unmarshal([]byte("size: 2QB\n"), &v); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("bad size: %v", err)
	}
	if err := yaml.Unmarshal([]byte("wait: [1s]\n"), &v); err == nil {
		t.Fatal("a list accepted as a duration")
	}
}

// FuzzParse feeds arbitrary bodies to Parse (weir.yaml is untrusted input).
// Invariants: no panic; an accepted body gives a valid Config; and that
// Config, written back as YAML, parses to the same Config.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "config", "*.yaml"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("server: {addr: '${X:1.2.3.4:5}'}"))
	env := map[string]string{"WEIR_PORT": "9000", "WEIR_EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, lookup)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted an invalid config: %v", err)
		}
		out, err := yaml.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(out, []byte("${")) {
			return // a literal "${" in a value would be read as a reference again
		}
		back, err := Parse(out, nil)
		if err != nil {
			t.Fatalf("re-parse of\n%s: %v", out, err)
		}
		if !reflect.DeepEqual(back, c) {
			t.Fatalf("round trip changed the config:\n%+v\n%+v", c, back)
		}
	})
}
