package actors

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weirflow/weir/config"
)

// Async requests are acknowledged on queueing; Stop drains the queue before
// the partitions, so all of them are on disk after a restart.
func TestProduceAsyncDrainedByStop(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.CDAP.AsyncQueueSize = 50
	e := startEngine(t, cfg)
	ctx := tctx(t)
	if _, _, err := e.CreateTopic(ctx, "default", "a", config.TopicProps{Partitions: 2, TTLMillis: config.TTLForever}); err != nil {
		t.Fatal(err)
	}
	if err := e.ProduceAsync(ctx, config.ProduceRequest{Namespace: "default", Topic: "missing", Messages: msgs("x", 1)}); !errors.Is(err, config.ErrTopicNotFound) {
		t.Fatalf("async to a missing topic: %v", err)
	}
	for i := 0; i < 300; i++ {
		if err := e.ProduceAsync(ctx, config.ProduceRequest{Namespace: "default", Topic: "a", Messages: msgs("m", 1)}); err != nil {
			t.Fatalf("async %d: %v", i, err)
		}
	}
	stopEngine(t, e)
	if !errors.Is(e.ProduceAsync(ctx, config.ProduceRequest{Namespace: "default", Topic: "a", Messages: msgs("x", 1)}), config.ErrUnavailable) || e.Ready() {
		t.Fatal("stopped engine still accepts requests")
	}
	e = startEngine(t, cfg)
	evs, err := e.ReadRange(tctx(t), "default", "a", 0, 1<<62, 1000)
	if err != nil || len(evs) != 300 {
		t.Fatalf("after drain and restart: %d events, %v", len(evs), err)
	}
}

// Above storage.max_inflight_appends a partition answers ErrBusy at once;
// what it accepted is acknowledged and stored.
func TestInflightCapAnswersBusy(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.Storage.MaxInflightAppends = 1
	e := startEngine(t, cfg)
	ctx := tctx(t)
	if _, _, err := e.CreateTopic(ctx, "default", "b", config.TopicProps{Partitions: 1, TTLMillis: config.TTLForever}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var acked, busy int
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				_, err := e.Produce(ctx, config.ProduceRequest{Namespace: "default", Topic: "b", Messages: msgs("x", 1)})
				mu.Lock()
				switch {
				case err == nil:
					acked++
				case errors.Is(err, config.ErrBusy):
					busy++
				default:
					t.Errorf("produce: %v", err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if busy == 0 || acked == 0 {
		t.Fatalf("acked %d, busy %d: want both", acked, busy)
	}
	ti, _ := e.GetTopic(ctx, "default", "b")
	if ti.Partitions[0].NextOffset != int64(acked) {
		t.Fatalf("stored %d events, acknowledged %d", ti.Partitions[0].NextOffset, acked)
	}
}

func TestMetricsAndDeadlines(t *testing.T) {
	e := startEngine(t, testConfig(t.TempDir()))
	ctx := tctx(t)
	mustProduce(t, e, config.ProduceRequest{Namespace: "default", Topic: "m", CreateTopic: true, Messages: msgs("abc", 3)})
	if _, err := e.Fetch(ctx, "default", "m", 0, 0, 10, 0); err != nil {
		t.Fatal(err)
	}
	join(t, e, "g", "c", config.StartEarliest, "m")
	poll(t, e, "c", false)
	rec := httptest.NewRecorder()
	e.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`weir_topic_events_in_total{namespace="default",topic="m"} 3`,
		`weir_topic_bytes_in_total{namespace="default",topic="m"} 15`,
		`weir_topic_events_out_total{namespace="default",topic="m"}`,
		`weir_partition_end_offset{namespace="default",partition="0",topic="m"} 3`,
		`weir_partition_append_fsync_seconds_count`,
		`weir_partition_batch_events_count`,
		`weir_group_lag_events{group="g",namespace="default",partition="0",topic="m"} 3`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	past, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if _, err := e.Produce(past, config.ProduceRequest{Namespace: "default", Topic: "m", Messages: msgs("x", 1)}); !errors.Is(err, config.ErrTimeout) {
		t.Fatalf("expired deadline: %v", err)
	}
	// A poll waiting with a long Wait is released by Stop at once, with the
	// answer of a stopping engine (503 over HTTP), not an empty one.
	done := make(chan error, 1)
	go func() {
		_, err := e.Poll(context.Background(), config.PollRequest{Namespace: "default", Member: "c", Wait: 20 * time.Second, AutoCommit: true})
		done <- err
	}()
	// The answer is the same if Stop comes first (enter refuses the poll)
	// or while it is being served; the pause makes the parked path, the
	// one under test, the usual one (nothing observable says "parked").
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	stopEngine(t, e)
	if err := <-done; !errors.Is(err, config.ErrUnavailable) || time.Since(start) > 5*time.Second {
		t.Fatalf("parked poll at stop: %v after %v, want ErrUnavailable at once", err, time.Since(start))
	}
}
