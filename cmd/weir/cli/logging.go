package cli

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/weirflow/weir/config"
)

// NewLogger builds the process logger from log.level and log.format. JSON is
// the default because logs usually go to a collector; "auto" switches to the
// human console format only when w is a terminal, so piping weir's output
// (tests, systemd, docker) always yields one JSON object per line.
func NewLogger(cfg config.LogConfig, w io.Writer) (zerolog.Logger, error) {
	level, err := zerolog.ParseLevel(cfg.Level)
	if err != nil || cfg.Level == "" {
		return zerolog.Nop(), fmt.Errorf("log.level: unknown level %q", cfg.Level)
	}
	out := w
	tty := isTerminal(w)
	// Colours only on a terminal: console format sent to a file stays plain.
	console := zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339, NoColor: !tty}
	switch cfg.Format {
	case "json":
	case "console":
		out = console
	case "auto", "":
		if tty {
			out = console
		}
	default:
		return zerolog.Nop(), fmt.Errorf("log.format: unknown format %q", cfg.Format)
	}
	return zerolog.New(out).Level(level).With().Timestamp().Logger(), nil
}

// isTerminal reports whether w is a character device (a TTY). It needs no
// dependency: a pipe or a regular file is never a char device.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
