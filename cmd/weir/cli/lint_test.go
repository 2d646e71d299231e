package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestLintFullConfigs: `weir lint` reads files as full Benthos configs, as
// `benthos lint` does: resources and the service-wide sections are linted
// like any component, an unknown top-level key is still a finding.
func TestLintFullConfigs(t *testing.T) {
	const stream = "input:\n  generate:\n    mapping: root = 1\noutput:\n  drop: {}\n"
	cases := []struct {
		name, conf string
		// findings, one per line, with FILE for the file's path.
		want string
	}{
		{"service sections and resources", "http:\n  enabled: false\n  address: 0.0.0.0:4195\nlogger:\n  level: WARN\n  format: logfmt\n" +
			"metrics:\n  mapping: root = this\n  json_api: {}\ntracer:\n  none: {}\nshutdown_timeout: 5s\nshutdown_delay: 0s\n" +
			"cache_resources:\n  - label: c\n    memory: {}\nrate_limit_resources:\n  - label: r\n    local: {}\n" +
			"processor_resources:\n  - label: p\n    mapping: root = content()\n" + stream, ""},
		{"unknown top-level key", stream + "nope: 1\n", "FILE(6,1) field nope not recognised\n"},
		{"resources is not a Benthos key", "resources:\n  caches: {}\n" + stream, "FILE(1,1) field resources not recognised\n"},
		{"finding inside a cache resource", "cache_resources:\n  - label: c\n    memory:\n      nope: 1\n" + stream, "FILE(4,1) field nope not recognised\n"},
		{"bloblang error inside a processor resource", "processor_resources:\n  - label: p\n    mapping: root =\n" + stream, "FILE(3,21) expected whitespace, but reached end of input\n"},
		{"unknown logger field", "logger:\n  level: INFO\n  colour: red\n" + stream, "FILE(3,1) field colour not recognised\n"},
		{"known metrics exporter is linted", "metrics:\n  logger:\n    nope: 1\n" + stream, "FILE(3,1) field nope not recognised\n"},
		// weir never uses the metrics section; exporters it does not ship
		// (prometheus, statsd…) are accepted unchecked.
		{"foreign metrics exporter", "metrics:\n  prometheus:\n    push_url: http://x\n" + stream, ""},
	}
	dir := t.TempDir()
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, dir, strings.ReplaceAll(c.name, " ", "_")+".yaml", c.conf)
			var out, errb bytes.Buffer
			code := Run(context.Background(), []string{"weir", "lint", p}, &out, &errb)
			want := strings.ReplaceAll(c.want, "FILE", p)
			wantCode := 0
			if want != "" {
				wantCode = 1
			}
			if code != wantCode || out.Len() != 0 || errb.String() != want {
				t.Fatalf("case %d: exit %d, stdout %q, stderr %q; want exit %d, stderr %q", i, code, out.String(), errb.String(), wantCode, want)
			}
		})
	}
}
