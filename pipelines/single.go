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
)

// LintPipeline lints a full Benthos config (already env-substituted) with
// Benthos's own config spec, as `benthos lint` and `benthos -c` do: an
// unknown top-level key is a "field X not recognised" lint, resources and the
// service-wide sections are linted like any component. A YAML syntax error is
// returned as the error.
func (env *Environment) LintPipeline(text []byte) ([]Lint, error) {
	if _, err := parseNode(text); err != nil {
		return nil, err
	}
	b := env.svc.NewStreamBuilder()
	b.SetEnvVarLookupFunc(lookupNone)
	var le service.LintError
	if err := b.SetYAML(string(protectEnv(text))); errors.As(err, &le) {
		return sortLints(fromServiceLints(le)), nil
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
	if _, err := parseNode(text); err != nil {
		return nil, &ParseError{Msg: err.Error()}
	}
	p := &PreparedStream{Text: text, build: string(protectEnv(text))}
	b := env.svc.NewStreamBuilder()
	b.DisableLinting()
	b.SetEnvVarLookupFunc(lookupNone)
	if err := b.SetYAML(p.build); err != nil {
		return nil, &ParseError{Msg: err.Error()}
	}
	return p, nil
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
