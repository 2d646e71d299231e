package pipelines

import (
	"testing"

	"github.com/rs/zerolog"
)

// TestFullConfigOnlyOutsideStreamsMode: the service-wide sections and
// resources of a full config are accepted by LintPipeline/ParsePipeline
// (weir run, weir lint) and still rejected by streams mode.
func TestFullConfigOnlyOutsideStreamsMode(t *testing.T) {
	env, err := NewEnvironment(Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	conf := []byte("logger:\n  level: WARN\ncache_resources:\n  - label: c\n    memory: {}\n" +
		"input:\n  generate:\n    mapping: root = 1\npipeline:\n  processors:\n    - cache:\n        resource: c\n        operator: get\n        key: k\noutput:\n  drop: {}\n")
	if lints, err := env.LintPipeline(conf); err != nil || len(lints) != 0 {
		t.Fatalf("LintPipeline: %v %v", lints, err)
	}
	if _, err := env.ParsePipeline(conf); err != nil {
		t.Fatalf("ParsePipeline: %v", err)
	}
	lints, err := env.LintStream(conf)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"(1,1) field logger not recognised", "(3,1) field cache_resources not recognised"}
	if len(lints) != len(want) {
		t.Fatalf("LintStream: %v, want %v", lints, want)
	}
	for i, l := range lints {
		if l.String() != want[i] {
			t.Fatalf("LintStream: %v, want %v", lints, want)
		}
	}
}

func TestReadPipelineSettings(t *testing.T) {
	cases := []struct {
		conf string
		want PipelineSettings
		err  string
	}{
		{"input:\n  generate:\n    mapping: root = 1\n", PipelineSettings{HTTPAddress: "0.0.0.0:4195"}, ""},
		{"logger:\n  level: ALL\n  format: json\n  file:\n    path: /x\n  static_fields:\n    a: 1\nhttp:\n  enabled: true\n  address: 127.0.0.1:9\n  cors: {}\nmetrics:\n  none: {}\nshutdown_timeout: 3s\nshutdown_delay: 1s\n",
			PipelineSettings{LogLevel: "trace", LogFormat: "json", StaticFields: map[string]string{"a": "1"}, HTTPEnabled: true, HTTPAddress: "127.0.0.1:9",
				ShutdownTimeout: 3e9, ShutdownDelay: 1e9, Unused: []string{"http.cors", "logger.file", "metrics"}}, ""},
		{"logger:\n  level: Off\nhttp:\n  address: 127.0.0.1:9\n", PipelineSettings{LogLevel: "disabled", HTTPAddress: "127.0.0.1:9"}, ""},
		{"logger:\n  level: loud\n", PipelineSettings{}, `logger.level: unknown level "loud"`},
		{"shutdown_timeout: -1s\n", PipelineSettings{}, `shutdown_timeout: invalid duration "-1s"`},
	}
	for i, c := range cases {
		got, err := ReadPipelineSettings([]byte(c.conf))
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("case %d: error %v, want %q", i, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("case %d: %v", i, err)
			continue
		}
		if got.LogLevel != c.want.LogLevel || got.LogFormat != c.want.LogFormat || got.HTTPEnabled != c.want.HTTPEnabled ||
			got.HTTPAddress != c.want.HTTPAddress || got.ShutdownTimeout != c.want.ShutdownTimeout || got.ShutdownDelay != c.want.ShutdownDelay ||
			len(got.StaticFields) != len(c.want.StaticFields) || len(got.Unused) != len(c.want.Unused) {
			t.Errorf("case %d: %+v, want %+v", i, got, c.want)
			continue
		}
		for k, v := range c.want.StaticFields {
			if got.StaticFields[k] != v {
				t.Errorf("case %d: static field %s = %q", i, k, got.StaticFields[k])
			}
		}
		for j := range c.want.Unused {
			if got.Unused[j] != c.want.Unused[j] {
				t.Errorf("case %d: unused %v, want %v", i, got.Unused, c.want.Unused)
			}
		}
	}
}
