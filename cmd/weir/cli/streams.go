package cli

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	ucli "github.com/urfave/cli/v2"
)

// streamsCommand is `weir streams [files…]`, like `benthos streams`: the
// engine and every API, with the streams set from files. Files given here
// replace the stored set of streams at boot (each file is the stream named
// after it); without files the stored set is restored as is.
func streamsCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "streams",
		Usage:     "run in streams mode, optionally replacing the stored streams with config files",
		ArgsUsage: "[STREAM.yaml…]",
		Description: "Each file becomes the stream named after it (file name without extension). The files\n" +
			"replace the stored set (streams not named by a file are deleted) before the APIs open.",
		Flags: ServerFlags(),
		Action: func(c *ucli.Context) error {
			configs := map[string][]byte{}
			for _, f := range c.Args().Slice() {
				b, err := os.ReadFile(f)
				if err != nil {
					return err
				}
				id := streamIDFromFile(f)
				if _, dup := configs[id]; dup {
					return usageError{fmt.Errorf("two files name stream %q", id)}
				}
				configs[id] = b
			}
			cfg, err := LoadConfig(c)
			if err != nil {
				return err
			}
			log, err := NewLogger(cfg.Log, c.App.ErrWriter)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			s, err := Start(cfg, log, StartOptions{})
			if err != nil {
				return err
			}
			if len(configs) > 0 {
				if err := s.Streams.SetConfigs(ctx, configs, 0); err != nil {
					return errors.Join(fmt.Errorf("streams from files: %w", err), s.Close())
				}
			}
			return s.Run(ctx)
		},
	}
}
