package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	ucli "github.com/urfave/cli/v2"

	"github.com/weirflow/weir/config"
)

// runCommand is `weir run pipeline.yaml`: one pipeline, like `benthos -c`,
// with the whole engine and every API around it. It exits when the pipeline
// ends (0 when its input finished, 1 when it failed) or on SIGINT/SIGTERM.
func runCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "run",
		Usage:     "run one pipeline (a Benthos stream config) with the engine and APIs around it",
		ArgsUsage: "PIPELINE.yaml",
		Description: "The pipeline is linted, then run as stream <file name without extension>; it is not stored in\n" +
			"the data directory. weir exits when the pipeline's input ends or on SIGINT/SIGTERM.",
		Flags: ServerFlags(),
		Action: func(c *ucli.Context) error {
			if c.Args().Len() != 1 {
				return usageError{errors.New("run takes exactly one pipeline file")}
			}
			file := c.Args().First()
			body, err := os.ReadFile(file)
			if err != nil {
				return err
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
			s, err := Start(cfg, log, StartOptions{EphemeralStreams: true})
			if err != nil {
				return err
			}
			id := streamIDFromFile(file)
			if err := s.Streams.Create(ctx, id, body, false); err != nil {
				return errors.Join(describeStreamError(file, err), s.Close())
			}
			ended := s.Streams.Ended(id)
			runCtx, cancel := context.WithCancel(ctx)
			defer cancel()
			go func() {
				select {
				case <-ended:
					log.Info().Str("stream", id).Msg("pipeline ended")
					cancel()
				case <-runCtx.Done():
				}
			}()
			if err := s.Run(runCtx); err != nil {
				return err
			}
			if st, err := s.Streams.Get(id); err == nil && st.State == config.StreamFailed {
				return fmt.Errorf("pipeline %s failed: %s", file, st.LastError)
			}
			return nil
		},
	}
}

// streamIDFromFile names a stream after its config file: "dir/a.yaml" → "a".
func streamIDFromFile(file string) string {
	base := filepath.Base(file)
	return strings.TrimSuffix(base, filepath.Ext(base))
}

// describeStreamError renders a rejected config like `weir lint` does.
func describeStreamError(file string, err error) error {
	var lint *config.StreamLintError
	if errors.As(err, &lint) {
		lines := make([]string, len(lint.Lints))
		for i, l := range lint.Lints {
			lines[i] = file + l
		}
		return fmt.Errorf("%s has lint errors:\n%s", file, strings.Join(lines, "\n"))
	}
	return fmt.Errorf("%s: %w", file, err)
}
