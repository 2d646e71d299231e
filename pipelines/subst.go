package pipelines

import (
	"fmt"
	"regexp"
	"strings"
)

// envPattern matches ${NAME} and ${NAME:default}; escapedEnvPattern matches
// ${{NAME}}, which stands for the literal ${NAME}. These are Benthos's
// interpolation rules (a default may itself contain one ${...}).
var (
	envPattern        = regexp.MustCompile(`\$\{[0-9A-Za-z_.]+(:((\$\{[^}]+\})|[^}])*)?\}`)
	escapedEnvPattern = regexp.MustCompile(`\$\{(\{[0-9A-Za-z_.]+(:((\$\{[^}]+\})|[^}])*)?\})\}`)
)

// MissingEnvError is returned by Substitute when variables without a default
// are unset. Names are listed once each, in order of first use.
type MissingEnvError struct {
	Names []string
}

func (e *MissingEnvError) Error() string {
	return fmt.Sprintf("required environment variables were not set: [%s]", strings.Join(e.Names, " "))
}

// Substitute applies environment interpolation to a raw request body, once,
// before any YAML parsing. lookup is os.LookupEnv in production. With
// lenient set (the streams API's ?chilled=true) missing variables become ""
// instead of an error. (weir.yaml has its own, stricter rules:
// config.ExpandEnv.)
func Substitute(body []byte, lookup func(string) (string, bool), lenient bool) ([]byte, error) {
	var missing []string
	seen := map[string]bool{}
	out := envPattern.ReplaceAllFunc(body, func(m []byte) []byte {
		inner := string(m[2 : len(m)-1])
		name, def, hasDef := strings.Cut(inner, ":")
		val, ok := lookup(name)
		switch {
		case hasDef:
			// An empty variable counts as unset when a default is given.
			if val == "" {
				val = def
			}
		case !ok:
			if !seen[name] {
				seen[name] = true
				missing = append(missing, name)
			}
		}
		// A raw newline would break the YAML around the reference.
		return []byte(strings.ReplaceAll(val, "\n", `\n`))
	})
	out = escapedEnvPattern.ReplaceAll(out, []byte("$$$1"))
	if len(missing) > 0 && !lenient {
		return nil, &MissingEnvError{Names: missing}
	}
	return out, nil
}

// protectEnv rewrites every ${...} reference in an already substituted config
// into its escaped form, so that Benthos's own interpolation (which
// StreamBuilder always applies) turns it back into the same text instead of
// substituting a second time: stored configs are substituted exactly once.
// (A reference nested in another's default, which only a client's
// ${{...}} escape can produce, is still substituted by Benthos.)
func protectEnv(text []byte) []byte {
	if !envPattern.Match(text) {
		return text
	}
	return envPattern.ReplaceAllFunc(text, func(m []byte) []byte {
		out := make([]byte, 0, len(m)+2)
		out = append(out, '$', '{')
		out = append(out, m[1:]...)
		return append(out, '}')
	})
}
