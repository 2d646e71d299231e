package actors

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/weirflow/weir/config"
)

// testConfig is a small, fast configuration rooted in dir.
func testConfig(dir string) config.Config {
	c := config.Default()
	c.Storage.DataDir = dir
	c.Storage.SegmentSize = 64 * config.KiB
	c.Storage.DefaultPartitions = 4
	c.Server.RequestTimeout = config.Duration(10 * time.Second)
	c.PolarStreams.ConsumerTimeout = config.Duration(2 * time.Second)
	return c
}

func testLogger(t testing.TB) zerolog.Logger {
	if os.Getenv("WEIR_TEST_LOG") != "" {
		return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.DebugLevel)
	}
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
}

func startEngine(t testing.TB, cfg config.Config) *Engine {
	t.Helper()
	e, err := Start(Options{Config: cfg, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = e.Stop(context.Background()) })
	return e
}

func stopEngine(t testing.TB, e *Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

func tctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func msgs(prefix string, n int) []config.Message {
	out := make([]config.Message, n)
	for i := range out {
		out[i] = config.Message{Body: []byte(fmt.Sprintf("%s-%d", prefix, i))}
	}
	return out
}

func mustProduce(t testing.TB, e *Engine, req config.ProduceRequest) config.ProduceResult {
	t.Helper()
	r, err := e.Produce(tctx(t), req)
	if err != nil {
		t.Fatalf("Produce %s/%s: %v", req.Namespace, req.Topic, err)
	}
	return r
}

// deleteLoop deletes ns/topic over and over in a goroutine until the
// returned stop is called (which waits for the loop to end): a test races
// its requests against the topic vanishing.
func deleteLoop(e *Engine, ctx context.Context, ns, topic string) (stop func()) {
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-quit:
				return
			default:
			}
			_ = e.DeleteTopic(ctx, ns, topic)
		}
	}()
	return func() { close(quit); <-done }
}
