package http_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/weirflow/weir/actors"
	"github.com/weirflow/weir/config"
	api "github.com/weirflow/weir/http"
)

// testServer is a real engine behind the real HTTP server on loopback, with
// its data in a per-test directory.
type testServer struct {
	URL    string
	Engine *actors.Engine
	Config config.Config
	// Streams is the stream manager wired into Options.Streams and .Usage.
	Streams *actors.Streams

	mutateOpts func(*api.Options)
	// contract validates every exchange against the OpenAPI document
	// (openapi_harness_test.go), across restarts.
	contract *contractRecorder
	addr     string
	cancel   context.CancelFunc
	done     chan error
}

// startServer starts an engine and the server on 127.0.0.1 (a free port);
// mutate adjusts the configuration first (nil = defaults). Stopped at the
// end of the test.
func startServer(t testing.TB, mutate func(*config.Config)) *testServer {
	return startServerWith(t, mutate, nil)
}

// startServerWith is startServer with a mutator of the server options too
// (e.g. a fake PipelineUsage).
func startServerWith(t testing.TB, mutateCfg func(*config.Config), mutateOpts func(*api.Options)) *testServer {
	t.Helper()
	cfg := config.Default()
	cfg.Storage.DataDir = t.TempDir()
	cfg.Server.Addr = "127.0.0.1:0"
	cfg.Server.ShutdownTimeout = config.Duration(10 * time.Second)
	if mutateCfg != nil {
		mutateCfg(&cfg)
	}
	ts := &testServer{Config: cfg, mutateOpts: mutateOpts, addr: cfg.Server.Addr, contract: newContractRecorder()}
	ts.start(t)
	t.Cleanup(func() {
		ts.stop(t)
		ts.contract.report(t)
	})
	return ts
}

func (ts *testServer) start(t testing.TB) {
	t.Helper()
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	eng, err := actors.Start(actors.Options{Config: ts.Config, Logger: log})
	if err != nil {
		t.Fatalf("start engine: %v", err)
	}
	streams, err := actors.NewStreams(eng, actors.StreamsOptions{StopTimeout: ts.Config.Streams.StopTimeout.Std()})
	if err != nil {
		_ = eng.Stop(context.Background())
		t.Fatalf("start streams: %v", err)
	}
	opts := api.Options{Config: ts.Config, Engine: eng, Streams: streams, Usage: streams, Logger: log, Version: "test",
		Metrics: eng.MetricsHandler()}
	if ts.mutateOpts != nil {
		ts.mutateOpts(&opts)
	}
	// Benchmarks measure weir, not the validator: decoding every answer
	// against the OpenAPI document (in goroutines sharing the same 2 cores)
	// costs more CPU than serving it, e.g. 1 MiB poll answers.
	if _, bench := t.(*testing.B); !bench {
		if mw := opts.Middleware; mw != nil {
			opts.Middleware = func(h http.Handler) http.Handler { return ts.contract.wrap(mw(h)) }
		} else {
			opts.Middleware = ts.contract.wrap
		}
	}
	opts.Config.Server.Addr = ts.addr
	srv := api.New(opts)
	var ln net.Listener
	// After a restart the same port may need a moment to be free again.
	deadline := time.Now().Add(5 * time.Second)
	for {
		ln, err = srv.Listen()
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		_ = streams.Close(context.Background())
		_ = eng.Stop(context.Background())
		t.Fatalf("listen: %v", err)
	}
	ts.addr = ln.Addr().String()
	ts.URL = "http://" + ts.addr
	ts.Engine = eng
	ts.Streams = streams
	ctx, cancel := context.WithCancel(context.Background())
	ts.cancel = cancel
	ts.done = make(chan error, 1)
	go func() { ts.done <- srv.Serve(ctx, ln) }()
}

func (ts *testServer) stop(t testing.TB) {
	t.Helper()
	if ts.cancel == nil {
		return
	}
	ts.cancel()
	if err := <-ts.done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("serve: %v", err)
	}
	// Streams stop first: their inputs commit offsets and leave groups.
	if err := ts.Streams.Close(context.Background()); err != nil {
		t.Errorf("stop streams: %v", err)
	}
	if err := ts.Engine.Stop(context.Background()); err != nil {
		t.Errorf("stop engine: %v", err)
	}
	ts.cancel = nil
}

// Stop stops the server and the engine gracefully.
func (ts *testServer) Stop(t testing.TB) { ts.stop(t) }

// Restart stops gracefully and starts again on the same data directory and
// address.
func (ts *testServer) Restart(t testing.TB) {
	t.Helper()
	ts.stop(t)
	ts.start(t)
}
