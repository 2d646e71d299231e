package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/rs/zerolog"
	ucli "github.com/urfave/cli/v2"

	"github.com/weirflow/weir/pipelines"
)

// lintCommand is `weir lint FILE…`: lints stream configs without an engine
// and prints each finding as Benthos does, "file(line,col) message"; exit 1
// when any file has findings.
func lintCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "lint",
		Usage:     "lint pipeline (stream) configs",
		ArgsUsage: "FILE…",
		Description: "Environment variables are substituted first (unset ones become empty). Every finding is\n" +
			"printed as file(line,col) message; the exit code is 1 when there are any.",
		Action: func(c *ucli.Context) error {
			if c.Args().Len() == 0 {
				return usageError{errors.New("lint needs at least one file")}
			}
			env, err := pipelines.NewEnvironment(pipelines.Options{Logger: zerolog.Nop()})
			if err != nil {
				return err
			}
			failed := 0
			for _, f := range c.Args().Slice() {
				for _, line := range lintFile(env, f) {
					fmt.Fprintln(c.App.Writer, line)
					failed++
				}
			}
			if failed > 0 {
				return fmt.Errorf("%d lint error(s)", failed)
			}
			return nil
		},
	}
}

// lintFile returns the findings of one file, already formatted.
func lintFile(env *pipelines.Environment, file string) []string {
	body, err := os.ReadFile(file)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", file, err)}
	}
	text, err := pipelines.Substitute(body, os.LookupEnv, true)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", file, err)}
	}
	lints, err := env.LintStream(text)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", file, err)}
	}
	var out []string
	for _, l := range lints {
		out = append(out, file+l.String())
	}
	if len(out) == 0 {
		if _, err := env.ParseStream(text); err != nil {
			out = append(out, fmt.Sprintf("%s: %v", file, err))
		}
	}
	return out
}
