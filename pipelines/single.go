package pipelines

// Full Benthos configs, as `benthos -c` and `benthos lint` read them: the
// stream sections plus the service-wide ones (http, logger, metrics, tracer,
// shutdown_timeout, shutdown_delay) and the *_resources lists. `weir run` and
// `weir lint` use these; streams mode (LintStream, ParseStream) keeps
// rejecting every key but input, buffer, pipeline and output.

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/benthosdev/benthos/v4/public/service"
	"github.com/rs/zerolog"
	"go.yaml.in/yaml/v3"
)

// LintPipeline lints a full Benthos config (already env-substituted) with
// Benthos's own config spec, as `benthos lint` and `benthos -c` do: an
// unknown top-level key is a "field X not recognised" lint, resources and the
// service-wide sections are linted like any component. A YAML syntax error is
// returned as the error.
func (env *Environment) LintPipeline(text []byte) ([]Lint, error) {
	root, err := parseNode(text)
	if err != nil {
		return nil, err
	}
	build, placeholder := env.skipForeignMetrics(text, root)
	b := env.svc.NewStreamBuilder()
	b.SetEnvVarLookupFunc(lookupNone)
	var le service.LintError
	if err := b.SetYAML(string(protectEnv(build))); errors.As(err, &le) {
		lints := fromServiceLints(le)
		out := lints[:0]
		for _, l := range lints {
			if placeholder != "" && l.What == "field "+placeholder+" not recognised" {
				continue
			}
			out = append(out, l)
		}
		return sortLints(out), nil
	}
	return nil, nil
}

// ParsePipeline parses a full Benthos config without linting it. The
// result starts like any stream (Environment.Start), and Benthos builds the
// file's *_resources and tracer into that one stream, as `benthos -c` does.
// Its logger, metrics and http sections are not used by Start: the stream
// logs through weir's logger, reports metrics to weir's exporter and
// registers its endpoints on its own mux (see PipelineSettings for what a
// caller may honour). A YAML or config error is a *ParseError.
func (env *Environment) ParsePipeline(text []byte) (*PreparedStream, error) {
	root, err := parseNode(text)
	if err != nil {
		return nil, &ParseError{Msg: err.Error()}
	}
	build, _ := env.skipForeignMetrics(text, root)
	return env.prepare(text, build)
}

// skipForeignMetrics hides a metrics section naming an exporter weir's
// environment does not have (prometheus, statsd, cloudwatch… from Benthos
// bundles weir does not ship): weir never uses the section (every stream
// reports to weir's own exporter), so a config written for benthos -c must
// not fail on it. The key is renamed in place to a placeholder of the same
// length, so every other position stays; the placeholder ("" when nothing
// was hidden) is what Benthos then reports as not recognised.
func (env *Environment) skipForeignMetrics(text []byte, root *yaml.Node) ([]byte, string) {
	if root == nil || root.Kind != yaml.MappingNode {
		return text, ""
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Value != "metrics" || v.Kind != yaml.MappingNode || !env.foreignMetrics(v) {
			continue
		}
		start, ok := keyOffset(text, lineOffsets(text), k)
		if !ok {
			return text, ""
		}
		existing := map[string]bool{}
		for j := 0; j+1 < len(root.Content); j += 2 {
			existing[root.Content[j].Value] = true
		}
		name := placeholderName(0, len(k.Value))
		for n := 1; existing[name]; n++ {
			name = placeholderName(n, len(k.Value))
		}
		out := append([]byte(nil), text...)
		copy(out[start:start+len(k.Value)], name)
		return out, name
	}
	return text, ""
}

// foreignMetrics reports whether a metrics mapping names an exporter the
// environment does not know.
func (env *Environment) foreignMetrics(v *yaml.Node) bool {
	known := map[string]bool{}
	env.svc.WalkMetrics(func(name string, _ *service.ConfigView) { known[name] = true })
	for j := 0; j+1 < len(v.Content); j += 2 {
		name := v.Content[j].Value
		if name == "mapping" {
			continue
		}
		if name == "type" {
			name = v.Content[j+1].Value
		}
		if !known[name] {
			return true
		}
	}
	return false
}

// PipelineSettings are the service-wide sections of a full config that the
// process running the pipeline may honour. Only what the file states
// explicitly is set; Benthos's defaults are left to the caller.
type PipelineSettings struct {
	// LogLevel is logger.level mapped to a zerolog level name
	// ("disabled" for OFF/NONE, "trace" for ALL); "" when absent.
	LogLevel string
	// LogFormat is logger.format as written (json, logfmt); "" when absent.
	LogFormat string
	// StaticFields is logger.static_fields.
	StaticFields map[string]string
	// HTTPEnabled is true only when the file sets http.enabled: true.
	HTTPEnabled bool
	// HTTPAddress is http.address, or Benthos's default 0.0.0.0:4195.
	HTTPAddress string
	// ShutdownTimeout and ShutdownDelay are 0 when absent.
	ShutdownTimeout, ShutdownDelay time.Duration
	// Unused names the sections the file sets that weir does not honour
	// (callers log them once, so nobody wonders where their statsd went).
	Unused []string
}

// benthosLevels maps Benthos logger levels (case-insensitive) to zerolog's.
var benthosLevels = map[string]string{
	"off": zerolog.Disabled.String(), "none": zerolog.Disabled.String(),
	"fatal": "fatal", "error": "error", "warn": "warn", "warning": "warn",
	"info": "info", "debug": "debug", "trace": "trace", "all": "trace",
}

// ReadPipelineSettings extracts the service-wide settings of a full config
// that parsed. Malformed durations and unknown log levels are errors.
func ReadPipelineSettings(text []byte) (PipelineSettings, error) {
	s := PipelineSettings{HTTPAddress: "0.0.0.0:4195"}
	v, err := Echo(text)
	if err != nil {
		return s, err
	}
	root, _ := v.(map[string]any)
	if lg, ok := root["logger"].(map[string]any); ok {
		for k, e := range lg {
			switch k {
			case "level":
				name := strings.ToLower(fmt.Sprint(e))
				lvl, ok := benthosLevels[name]
				if !ok {
					return s, fmt.Errorf("logger.level: unknown level %q", fmt.Sprint(e))
				}
				s.LogLevel = lvl
			case "format":
				s.LogFormat = fmt.Sprint(e)
			case "static_fields":
				if m, ok := e.(map[string]any); ok {
					s.StaticFields = make(map[string]string, len(m))
					for fk, fv := range m {
						s.StaticFields[fk] = fmt.Sprint(fv)
					}
				}
			case "add_timestamp":
				// weir always timestamps its log lines.
			default:
				s.Unused = append(s.Unused, "logger."+k)
			}
		}
	}
	if h, ok := root["http"].(map[string]any); ok {
		if en, ok := h["enabled"].(bool); ok && en {
			s.HTTPEnabled = true
		}
		if a, ok := h["address"].(string); ok && a != "" {
			s.HTTPAddress = a
		}
		for k := range h {
			if k != "enabled" && k != "address" && s.HTTPEnabled {
				s.Unused = append(s.Unused, "http."+k)
			}
		}
	}
	if _, ok := root["metrics"]; ok {
		s.Unused = append(s.Unused, "metrics")
	}
	for key, dst := range map[string]*time.Duration{"shutdown_timeout": &s.ShutdownTimeout, "shutdown_delay": &s.ShutdownDelay} {
		raw, ok := root[key]
		if !ok {
			continue
		}
		d, err := time.ParseDuration(fmt.Sprint(raw))
		if err != nil || d < 0 {
			return s, fmt.Errorf("%s: invalid duration %q", key, fmt.Sprint(raw))
		}
		*dst = d
	}
	sort.Strings(s.Unused)
	return s, nil
}
