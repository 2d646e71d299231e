package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	ucli "github.com/urfave/cli/v2"

	"github.com/weirflow/weir/actors"
	"github.com/weirflow/weir/config"
	api "github.com/weirflow/weir/http"
)

func serveCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "serve",
		Usage: "run the engine and serve every API (streams mode, CDAP v3, PolarStreams) on one listener",
		Description: "Without -c, every setting has its default: data in ./weir-data, listening on 127.0.0.1:4195.\n" +
			"SIGINT or SIGTERM stops accepting requests, drains and fsyncs every partition, and exits 0\n" +
			"within server.shutdown_timeout.",
		Flags: ServerFlags(),
		Action: func(c *ucli.Context) error {
			if c.Args().Len() > 0 {
				return usageError{fmt.Errorf("serve takes no arguments, got %q", c.Args().First())}
			}
			cfg, err := LoadConfig(c)
			if err != nil {
				return err
			}
			log, err := NewLogger(cfg.Log, c.App.ErrWriter)
			if err != nil {
				return err
			}
			return Serve(c.Context, cfg, log)
		},
	}
}

// Serve runs weir until SIGINT or SIGTERM (or ctx ends), then stops it
// gracefully. It is what `weir serve` does after loading the configuration.
func Serve(ctx context.Context, cfg config.Config, log zerolog.Logger) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := Start(cfg, log, StartOptions{})
	if err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		// Restore the default signal handling: a second Ctrl-C kills weir at
		// once. That is safe, because nothing acknowledged is only in memory.
		stop()
	}()
	return s.Run(ctx)
}

// Server is one running weir: the engine (which holds the data-directory
// lock), the stream manager, and the HTTP front end on a bound listener.
// Commands that run the engine (serve, run, streams) build one with Start,
// may use Engine and Streams before serving, and then call Run.
type Server struct {
	Config  config.Config
	Log     zerolog.Logger
	Engine  *actors.Engine
	Streams *actors.Streams
	HTTP    *api.Server

	ln net.Listener
}

// StartOptions adjust Start for the commands other than serve.
type StartOptions struct {
	// EphemeralStreams keeps streams in memory only: none are restored from
	// the data directory and none are stored there (weir run).
	EphemeralStreams bool
}

// Start starts the engine on cfg.Storage.DataDir (taking its exclusive lock),
// restores the stored streams and binds cfg.Server.Addr. On error nothing is
// left running and the lock is released. The caller must call Run (or Close).
func Start(cfg config.Config, log zerolog.Logger, opts StartOptions) (*Server, error) {
	version, built := BuildInfo()
	log.Info().Str("version", version).Str("built", built).Str("data_dir", cfg.Storage.DataDir).Msg("weir starting")

	s := &Server{Config: cfg, Log: log}
	var err error
	if s.Engine, err = actors.Start(actors.Options{Config: cfg, Logger: log}); err != nil {
		return nil, err
	}
	s.Streams, err = actors.NewStreams(s.Engine, actors.StreamsOptions{
		StopTimeout: cfg.Streams.StopTimeout.Std(),
		Ephemeral:   opts.EphemeralStreams,
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("start streams: %w", err), s.stop(time.Now()))
	}
	s.HTTP = api.New(api.Options{
		Config:  cfg,
		Engine:  s.Engine,
		Streams: s.Streams,
		Usage:   s.Streams,
		Metrics: s.Engine.MetricsHandler(),
		Logger:  log,
		Version: version,
		Built:   built,
	})
	if s.ln, err = s.HTTP.Listen(); err != nil {
		return nil, errors.Join(fmt.Errorf("listen on %s: %w", cfg.Server.Addr, err), s.stop(time.Now()))
	}
	// Tests and scripts find a port-0 listener through this line's addr field.
	log.Info().Str("addr", s.ln.Addr().String()).Msg("listening")
	return s, nil
}

// Addr is the bound address of the main listener.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Run serves until ctx ends, then shuts down within server.shutdown_timeout:
// the listener stops accepting while the streams stop (their inputs commit
// and leave their groups) and then the engine stops admitting requests
// (those answer 503), releases parked polls, drains its async queues and
// in-flight requests, and writes and fsyncs every partition. HTTP and the
// engine stop together because each waits on the other: HTTP shutdown waits
// for handlers, and a long poll's handler returns only when the engine
// releases it.
func (s *Server) Run(ctx context.Context) error {
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.HTTP.Serve(ctx, s.ln) }()

	var errs []error
	select {
	case err := <-serveErr:
		// The listener failed while serving: nothing will cancel ctx for
		// us, so stop the engine and report the failure.
		errs = append(errs, fmt.Errorf("serve: %w", err))
		errs = append(errs, s.stop(time.Now()))
		return errors.Join(errs...)
	case <-ctx.Done():
	}
	begun := time.Now()
	s.Log.Info().Dur("shutdown_timeout", s.Config.Server.ShutdownTimeout.Std()).Msg("shutting down")
	engineErr := make(chan error, 1)
	go func() { engineErr <- s.stop(begun) }()
	if err := <-serveErr; err != nil {
		errs = append(errs, fmt.Errorf("http shutdown: %w", err))
	}
	if err := <-engineErr; err != nil {
		errs = append(errs, fmt.Errorf("engine shutdown: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	s.Log.Info().Dur("took", time.Since(begun)).Msg("stopped")
	return nil
}

// Close stops a Server that will not Run (a command that failed after Start).
func (s *Server) Close() error {
	return errors.Join(s.ln.Close(), s.stop(time.Now()))
}

// stop closes the streams, then the engine, by begun + shutdown_timeout.
// The engine drains its partitions even when the deadline has passed.
func (s *Server) stop(begun time.Time) error {
	ctx, cancel := context.WithDeadline(context.Background(), begun.Add(s.Config.Server.ShutdownTimeout.Std()))
	defer cancel()
	var errs []error
	if s.Streams != nil {
		if err := s.Streams.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("streams: %w", err))
		}
	}
	if err := s.Engine.Stop(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
