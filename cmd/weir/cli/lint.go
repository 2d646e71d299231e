package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"unicode/utf8"

	"github.com/rs/zerolog"
	ucli "github.com/urfave/cli/v2"

	"github.com/weirflow/weir/pipelines"
)

// lintCommand is `weir lint FILE…`, like `benthos lint`: lints full Benthos
// configs (stream sections, *_resources, logger, metrics, http, tracer…)
// without an engine and prints each finding to stderr as
// "file(line,col) message", nothing else; exit 1 when any file has findings.
// A plain stream config is a full config without the service-wide sections,
// so it lints the same.
func lintCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "lint",
		Usage:     "lint pipeline configs (full Benthos configs, as weir run reads them)",
		ArgsUsage: "FILE…",
		Description: "Files are linted as full Benthos configs, as benthos lint and weir run read them: resources,\n" +
			"logger, metrics, http, tracer and shutdown_timeout are allowed, any other unknown key is a finding.\n" +
			"Every finding is printed to stderr as file(line,col) message, as benthos lint does; the exit\n" +
			"code is 1 when there are any. An unset environment variable without a default is a finding\n" +
			"unless --skip-env-var-check is given. A file starting with \"# BENTHOS LINT DISABLE\" is only\n" +
			"checked for errors that stop it from running.",
		Flags: []ucli.Flag{
			&ucli.BoolFlag{Name: "skip-env-var-check", Usage: "do not report unset environment variables"},
		},
		Action: func(c *ucli.Context) error {
			if c.Args().Len() == 0 {
				return usageError{errors.New("lint needs at least one file")}
			}
			env, err := pipelines.NewEnvironment(pipelines.Options{Logger: zerolog.Nop()})
			if err != nil {
				return err
			}
			failed := false
			for _, f := range c.Args().Slice() {
				for _, line := range lintFile(env, f, c.Bool("skip-env-var-check")) {
					fmt.Fprintln(c.App.ErrWriter, line)
					failed = true
				}
			}
			if failed {
				// The findings are the whole report, as in benthos lint.
				return ucli.Exit("", 1)
			}
			return nil
		},
	}
}

// lintPosition matches a message that already starts with "(line,col) ".
var lintPosition = regexp.MustCompile(`^\(\d+,\d+\) `)

// lintFile returns the findings of one file, formatted as benthos lint
// prints them and in its order: an unreadable file, invalid UTF-8 and unset
// environment variables are findings at (1,1); a file that cannot be parsed
// gives that one error (at its own position, else (1,1)) and no lints.
func lintFile(env *pipelines.Environment, file string, skipEnv bool) []string {
	at := func(msg string) string { return findingAt(file, msg) }
	body, err := os.ReadFile(file)
	if err != nil {
		return []string{at(err.Error())}
	}
	var out []string
	if !utf8.Valid(body) {
		out = append(out, at("detected invalid utf-8 encoding in config, this may result in interpolation functions not working as expected"))
	}
	text, err := pipelines.Substitute(body, os.LookupEnv, false)
	if err != nil {
		if !skipEnv {
			out = append(out, at(err.Error()))
		}
		text, _ = pipelines.Substitute(body, os.LookupEnv, true)
	}
	if _, err := env.ParsePipeline(text); err != nil {
		return []string{at(err.Error())}
	}
	if bytes.HasPrefix(body, []byte("# BENTHOS LINT DISABLE")) {
		return out
	}
	lints, err := env.LintPipeline(text)
	if err != nil {
		return []string{at(err.Error())}
	}
	for _, l := range lints {
		out = append(out, file+l.String())
	}
	return out
}
