package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	ucli "github.com/urfave/cli/v2"

	"github.com/weirflow/weir/config"
	"github.com/weirflow/weir/pipelines"
)

// runCommand is `weir run pipeline.yaml`: one pipeline from a full Benthos
// config, like `benthos -c`, with the whole engine and every API around it.
// It exits when the pipeline ends (0 when its input finished, 1 when it
// failed) or on SIGINT/SIGTERM.
//
// What the file's service-wide sections do under weir run:
//   - *_resources and tracer: built into the pipeline, as benthos -c does.
//   - logger: level, format (json, or logfmt → weir's console format) and
//     static_fields configure weir's own (zerolog) logger, which every log
//     line of the process goes through; --log-level still wins. Other
//     logger fields are ignored (logged once).
//   - metrics: ignored (logged once); the pipeline's metrics are on weir's
//     /metrics (Prometheus, with a stream label) and /streams/{id}/stats.
//   - http: no second listener by default, because weir's main listener
//     already serves /ready, /metrics and the pipeline's endpoints under
//     /{id}/. Only `http.enabled: true`, written in the file, opens
//     http.address (Benthos's default 0.0.0.0:4195) with the pipeline's
//     endpoints at its root, where benthos -c would serve them.
//   - shutdown_timeout: the pipeline's stop deadline (streams.stop_timeout);
//     server.shutdown_timeout is raised to it when smaller.
//   - shutdown_delay: after the input finished, weir waits this long (or
//     for a signal) before shutting down, so the last metrics can be read.
func runCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "run",
		Usage:     "run one pipeline (a full Benthos config, as benthos -c reads it) with the engine and APIs around it",
		ArgsUsage: "PIPELINE.yaml",
		Description: "The file is a Benthos config: input, buffer, pipeline, output, *_resources, tracer, and the\n" +
			"service-wide logger (sets weir's log level and format unless --log-level is given), metrics (ignored:\n" +
			"weir's /metrics has them), http (not served unless http.enabled: true is written, then http.address\n" +
			"serves the pipeline's endpoints at its root) and shutdown_timeout/shutdown_delay. ${VAR} and\n" +
			"${VAR:default} are replaced from the environment. Lint findings are printed as file(line,col) message\n" +
			"and stop weir with exit 1, unless --chilled (then they are logged as warnings). The pipeline runs as\n" +
			"stream <file name without extension> and is not stored in the data directory. weir exits 0 when the\n" +
			"pipeline's input ends, 1 when the pipeline fails, and on SIGINT/SIGTERM.",
		Flags: append(ServerFlags(),
			&ucli.BoolFlag{Name: "chilled", Usage: "log lint findings as warnings instead of refusing to run"},
		),
		Action: runAction,
	}
}

func runAction(c *ucli.Context) error {
	if c.Args().Len() != 1 {
		return usageError{errors.New("run takes exactly one pipeline file")}
	}
	file := c.Args().First()
	chilled := c.Bool("chilled")
	body, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	text, err := pipelines.Substitute(body, os.LookupEnv, chilled)
	if err != nil {
		// Only without --chilled; lintFile reports the missing variables.
		text, _ = pipelines.Substitute(body, os.LookupEnv, true)
	}
	// Checked before the engine starts: a broken file neither takes the
	// data-directory lock nor binds the listener.
	lintEnv, err := pipelines.NewEnvironment(pipelines.Options{Logger: zerolog.Nop()})
	if err != nil {
		return err
	}
	prepared, err := lintEnv.ParsePipeline(text)
	if err != nil {
		// A config that does not parse cannot run, chilled or not.
		fmt.Fprintln(c.App.ErrWriter, findingAt(file, err.Error()))
		return ucli.Exit("", 1)
	}
	findings := lintFile(lintEnv, file, false)
	if len(findings) > 0 && !chilled {
		for _, f := range findings {
			fmt.Fprintln(c.App.ErrWriter, f)
		}
		return fmt.Errorf("%s has lint errors; run with --chilled to run it anyway", file)
	}
	settings, err := pipelines.ReadPipelineSettings(text)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}

	cfg, err := LoadConfig(c)
	if err != nil {
		return err
	}
	applyPipelineSettings(&cfg, settings, c.IsSet("log-level"))
	log, err := NewLogger(cfg.Log, c.App.ErrWriter)
	if err != nil {
		return fmt.Errorf("%s: logger: %w", file, err)
	}
	log = withStaticFields(log, settings.StaticFields)
	for _, f := range findings {
		log.Warn().Str("lint", f).Msg("config lint error")
	}
	for _, u := range settings.Unused {
		if u == "metrics" {
			log.Warn().Str("section", u).Msg("pipeline metrics are exported on weir's /metrics and /streams/{id}/stats; the file's metrics section is not used")
			continue
		}
		log.Warn().Str("section", u).Msg("pipeline setting not used by weir run")
	}

	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := Start(cfg, log, StartOptions{EphemeralStreams: true})
	if err != nil {
		return err
	}
	id := streamIDFromFile(file)
	var side *http.Server
	if settings.HTTPEnabled {
		if side, err = serveStreamEndpoints(s, id, settings.HTTPAddress); err != nil {
			return errors.Join(fmt.Errorf("%s: http.address %s: %w", file, settings.HTTPAddress, err), s.Close())
		}
		defer side.Close()
	}
	if err := s.Streams.CreatePipeline(ctx, id, prepared); err != nil {
		return errors.Join(fmt.Errorf("%s: %w", file, err), s.Close())
	}
	ended := s.Streams.Ended(id)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-ended:
			log.Info().Str("stream", id).Msg("pipeline ended")
			if settings.ShutdownDelay > 0 {
				t := time.NewTimer(settings.ShutdownDelay)
				select {
				case <-t.C:
				case <-runCtx.Done():
					t.Stop()
				}
			}
			cancel()
		case <-runCtx.Done():
		}
	}()
	if err := s.Run(runCtx); err != nil {
		return err
	}
	if side != nil {
		shutCtx, done := context.WithTimeout(context.Background(), time.Second)
		_ = side.Shutdown(shutCtx)
		done()
	}
	if st, err := s.Streams.Get(id); err == nil && st.State == config.StreamFailed {
		return fmt.Errorf("pipeline %s failed: %s", file, st.LastError)
	}
	return nil
}

// applyPipelineSettings lets the pipeline file's logger and shutdown_timeout
// adjust weir's settings: the file is more specific than weir.yaml, while a
// flag given on the command line still wins.
func applyPipelineSettings(cfg *config.Config, st pipelines.PipelineSettings, levelFlag bool) {
	if st.LogLevel != "" && !levelFlag {
		cfg.Log.Level = st.LogLevel
	}
	switch strings.ToLower(st.LogFormat) {
	case "json":
		cfg.Log.Format = "json"
	case "logfmt":
		// weir has no logfmt writer; its console format is the closest
		// human-readable key=value form.
		cfg.Log.Format = "console"
	}
	if st.ShutdownTimeout > 0 {
		cfg.Streams.StopTimeout = config.Duration(st.ShutdownTimeout)
		if cfg.Server.ShutdownTimeout.Std() < st.ShutdownTimeout {
			cfg.Server.ShutdownTimeout = config.Duration(st.ShutdownTimeout)
		}
	}
}

// withStaticFields adds logger.static_fields to every log line, in key order.
func withStaticFields(log zerolog.Logger, fields map[string]string) zerolog.Logger {
	if len(fields) == 0 {
		return log
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	lc := log.With()
	for _, k := range keys {
		lc = lc.Str(k, fields[k])
	}
	return lc.Logger()
}

// serveStreamEndpoints opens the listener a file asked for with
// http.enabled: true and serves the pipeline's own endpoints (/ready, /stats,
// http_server paths) at its root, as benthos -c does.
func serveStreamEndpoints(s *Server, id, addr string) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := s.Streams.Endpoint(id)
			if h == nil {
				http.Error(w, "pipeline is not running", http.StatusServiceUnavailable)
				return
			}
			h.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	s.Log.Info().Str("addr", ln.Addr().String()).Str("stream", id).Msg("serving the pipeline's endpoints (http.enabled)")
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.Log.Error().Err(err).Msg("pipeline http listener failed")
		}
	}()
	return srv, nil
}

// streamIDFromFile names a stream after its config file: "dir/a.yaml" → "a".
func streamIDFromFile(file string) string {
	base := filepath.Base(file)
	return strings.TrimSuffix(base, filepath.Ext(base))
}

// findingAt renders a message as a finding of file, at its own position when
// it starts with "(line,col) ", else at (1,1), as benthos lint does.
func findingAt(file, msg string) string {
	if lintPosition.MatchString(msg) {
		return file + msg
	}
	return file + "(1,1) " + msg
}
