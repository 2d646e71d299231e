// Package cli is weir's command line: `weir serve` and its siblings. It is a
// package (not just main) so that a plugin author can build a custom weir
// binary with a few lines of main:
//
//	package main
//
//	import (
//		"os"
//
//		"github.com/weirflow/weir/cmd/weir/cli"
//		_ "example.com/myplugins" // registers components in init()
//	)
//
//	func main() { os.Exit(cli.Main(os.Args)) }
//
// It only wires packages together (config, actors, http, pipelines); it holds
// no engine logic of its own.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	ucli "github.com/urfave/cli/v2"

	"github.com/weirflow/weir/config"
)

// Version and Built identify the build on GET /version and in logs. Release
// builds set them with
//
//	go build -ldflags "-X github.com/weirflow/weir/cmd/weir/cli.Version=v0.1.0 -X github.com/weirflow/weir/cmd/weir/cli.Built=2025-01-01T00:00:00Z" ./cmd/weir
//
// Unset, they come from the binary's build info (a tagged module version,
// the VCS commit time) or fall back to "dev" and "unknown".
var (
	Version string
	Built   string
)

// Commands is weir's command list, one line per command. A custom binary may
// append its own commands before calling NewApp.
func Commands() []*ucli.Command {
	return []*ucli.Command{
		serveCommand(),
		topicCommand(),
		produceCommand(),
		consumeCommand(),
		groupCommand(),
		streamCommand(),
		runCommand(),
		streamsCommand(),
		lintCommand(),
		benchCommand(),
	}
}

// Main runs weir with os.Args-style args (args[0] is the program name) and
// returns the process exit code. It stops on SIGINT/SIGTERM (see serve).
func Main(args []string) int {
	return Run(context.Background(), args, os.Stdout, os.Stderr)
}

// Run is Main with explicit context and output streams (for tests and
// embedding). Errors are printed once, as "weir: <error>", and give exit 1;
// a usage error gives exit 2.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	app := NewApp(Commands(), stdout, stderr)
	if err := app.RunContext(ctx, args); err != nil {
		// An empty message means the command already reported (lint).
		if msg := err.Error(); msg != "" {
			fmt.Fprintf(stderr, "weir: %s\n", msg)
		}
		var ue usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	return 0
}

// usageError marks mistakes on the command line (exit code 2, as flag does).
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// NewApp builds the urfave/cli application around cmds.
func NewApp(cmds []*ucli.Command, stdout, stderr io.Writer) *ucli.App {
	version, _ := BuildInfo()
	onUsage := func(_ *ucli.Context, err error, _ bool) error { return usageError{err} }
	var mark func([]*ucli.Command)
	mark = func(cs []*ucli.Command) {
		for _, c := range cs {
			if c.OnUsageError == nil {
				c.OnUsageError = onUsage
			}
			mark(c.Subcommands)
		}
	}
	mark(cmds)
	return &ucli.App{
		Name:    "weir",
		Usage:   "durable partitioned topics, Benthos streams and their REST APIs in one binary",
		Version: version,
		Writer:  stdout,
		// ErrWriter also receives the logs of long-running commands.
		ErrWriter:       stderr,
		Commands:        cmds,
		HideHelpCommand: true,
		// Errors are printed once by Run; urfave's own handler would call
		// os.Exit from inside the library.
		ExitErrHandler: func(*ucli.Context, error) {},
		OnUsageError:   onUsage,
		Action: func(c *ucli.Context) error {
			if c.Args().Len() > 0 {
				return usageError{fmt.Errorf("unknown command %q (see weir --help)", c.Args().First())}
			}
			return ucli.ShowAppHelp(c)
		},
	}
}

// BuildInfo returns the version and build time reported by GET /version.
func BuildInfo() (version, built string) {
	version, built = Version, Built
	if bi, ok := debug.ReadBuildInfo(); ok {
		if version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.time" && built == "" {
				built = s.Value
			}
		}
	}
	if version == "" {
		version = "dev"
	}
	if built == "" {
		built = "unknown"
	}
	return version, built
}

// ServerFlags are the flags of every command that runs the engine (serve,
// run, streams). Flags override weir.yaml, which overrides the defaults.
func ServerFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "weir.yaml `FILE` (optional; every setting has a default)"},
		&ucli.StringFlag{Name: "addr", Usage: "main listener `HOST:PORT` (server.addr; port 0 picks a free port)"},
		&ucli.StringFlag{Name: "data-dir", Usage: "data `DIR` for topics, catalog and streams (storage.data_dir)"},
		&ucli.StringFlag{Name: "log-level", Usage: "`LEVEL`: trace, debug, info, warn or error (log.level)"},
	}
}

// LoadConfig loads the file named by --config (if any), applies the
// ServerFlags given on the command line over it and validates the result.
func LoadConfig(c *ucli.Context) (config.Config, error) {
	var set []string
	cfg, err := config.Load(c.String("config"), func(cfg *config.Config) {
		if c.IsSet("addr") {
			cfg.Server.Addr = c.String("addr")
			set = append(set, "server.addr")
		}
		if c.IsSet("data-dir") {
			cfg.Storage.DataDir = c.String("data-dir")
			set = append(set, "storage.data_dir")
		}
		if c.IsSet("log-level") {
			cfg.Log.Level = c.String("log-level")
			set = append(set, "log.level")
		}
	})
	if err != nil {
		return config.Config{}, nameFlags(err, set)
	}
	return cfg, nil
}

// flagOf names the flag behind each setting that has one.
var flagOf = map[string]string{
	"server.addr":      "--addr",
	"storage.data_dir": "--data-dir",
	"log.level":        "--log-level",
}

// nameFlags adds the flag to validation errors about values that came from
// the command line, so "server.addr: must be host:port" reads
// "server.addr (--addr): ..." when --addr was the culprit.
func nameFlags(err error, set []string) error {
	var fe *config.FieldError
	for _, e := range unjoin(err) {
		if !errors.As(e, &fe) || fe.Line != 0 {
			continue
		}
		for _, s := range set {
			if fe.Field == s {
				fe.Field += " (" + flagOf[s] + ")"
			}
		}
	}
	return err
}

func unjoin(err error) []error {
	if u, ok := err.(interface{ Unwrap() error }); ok && u.Unwrap() != nil {
		return unjoin(u.Unwrap())
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
