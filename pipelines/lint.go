package pipelines

import (
	"errors"
	"fmt"
	"sort"

	"github.com/benthosdev/benthos/v4/public/service"
)

// Lint is one lint finding in a config body; Line is 1-based in the body
// (0 for a document-level problem), Column is 1 for structural lints and the
// character position for Bloblang errors.
type Lint struct {
	Line, Column int
	What         string
}

// String renders the lint as the streams API and `weir lint` print it.
func (l Lint) String() string { return fmt.Sprintf("(%d,%d) %s", l.Line, l.Column, l.What) }

// LintError carries the lints that rejected a config.
type LintError struct{ Lints []Lint }

func (e *LintError) Error() string {
	if len(e.Lints) == 0 {
		return "lint errors"
	}
	return "lint errors: " + e.Lints[0].String()
}

// ParseError is a config that lints (or was not linted) but cannot be parsed
// into components: the streams API answers 400 with its message.
type ParseError struct{ Msg string }

func (e *ParseError) Error() string { return e.Msg }

// BuildError is a config that parses but whose components cannot be
// constructed: the streams API answers 502 with its message.
type BuildError struct{ Msg string }

func (e *BuildError) Error() string { return e.Msg }

func fromServiceLints(le service.LintError) []Lint {
	out := make([]Lint, 0, len(le))
	for _, l := range le {
		out = append(out, Lint{Line: l.Line, Column: l.Column, What: l.What})
	}
	return out
}

// sortLints orders lints by line, then column, keeping the linter's order on
// ties.
func sortLints(ls []Lint) []Lint {
	sort.SliceStable(ls, func(i, j int) bool {
		if ls[i].Line != ls[j].Line {
			return ls[i].Line < ls[j].Line
		}
		return ls[i].Column < ls[j].Column
	})
	return ls
}

// LintStream lints a stream config body (already env-substituted) the way
// Benthos streams mode does: only input, buffer, pipeline and output are
// stream sections; any other top-level key is one "not recognised" lint and
// its children are not linted. Every lint level is reported. A YAML syntax
// error is returned as the error.
func (env *Environment) LintStream(text []byte) ([]Lint, error) {
	root, err := parseNode(text)
	if err != nil {
		return nil, err
	}
	isolated, unknown, err := isolateSections(text, root)
	if err != nil {
		return nil, err
	}
	lints := make([]Lint, 0, len(unknown))
	for _, k := range unknown {
		lints = append(lints, Lint{Line: k.Line, Column: 1, What: fmt.Sprintf("field %s not recognised", k.Name)})
	}
	renamed := map[string]bool{}
	if len(unknown) > 0 {
		iroot, err := parseNode(isolated)
		if err == nil && iroot != nil {
			for i := 0; i+1 < len(iroot.Content); i += 2 {
				if !streamSections[iroot.Content[i].Value] {
					renamed["field "+iroot.Content[i].Value+" not recognised"] = true
				}
			}
		}
	}
	b := env.svc.NewStreamBuilder()
	b.SetEnvVarLookupFunc(lookupNone)
	err = b.SetYAML(string(protectEnv(isolated)))
	var le service.LintError
	if errors.As(err, &le) {
		for _, l := range fromServiceLints(le) {
			if renamed[l.What] {
				continue
			}
			lints = append(lints, l)
		}
	}
	return sortLints(lints), nil
}

// PreparedStream is a stream config that parsed: ready to build.
type PreparedStream struct {
	// Text is the stored config text (after env substitution).
	Text []byte
	// build is Text with non-stream top-level keys neutralised and env
	// references protected from a second substitution.
	build string
}

// ParseStream parses a stream config body without linting it. A YAML or
// config error is a *ParseError.
func (env *Environment) ParseStream(text []byte) (*PreparedStream, error) {
	root, err := parseNode(text)
	if err != nil {
		return nil, &ParseError{Msg: err.Error()}
	}
	isolated, _, err := isolateSections(text, root)
	if err != nil {
		return nil, &ParseError{Msg: err.Error()}
	}
	return env.prepare(text, isolated)
}

// prepare checks that build (the text Benthos will build, already
// substituted once) parses as a stream config, and keeps it with the
// client's text. References left in build are escaped (protectEnv) so
// Benthos does not substitute a second time.
func (env *Environment) prepare(text, build []byte) (*PreparedStream, error) {
	p := &PreparedStream{Text: text, build: string(protectEnv(build))}
	b := env.svc.NewStreamBuilder()
	b.DisableLinting()
	b.SetEnvVarLookupFunc(lookupNone)
	if err := b.SetYAML(p.build); err != nil {
		return nil, &ParseError{Msg: err.Error()}
	}
	return p, nil
}

// CheckStream is the single-stream API order: YAML, lint (unless chilled),
// parse (its error beats lints), then the lints. Errors are *ParseError or
// *LintError.
func (env *Environment) CheckStream(text []byte, chilled bool) (*PreparedStream, error) {
	var lints []Lint
	if !chilled {
		var err error
		if lints, err = env.LintStream(text); err != nil {
			return nil, &ParseError{Msg: err.Error()}
		}
	}
	p, err := env.ParseStream(text)
	if err != nil {
		return nil, err
	}
	if len(lints) > 0 {
		return nil, &LintError{Lints: lints}
	}
	return p, nil
}
