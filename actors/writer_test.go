package actors

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/weirflow/weir/config"
	"github.com/weirflow/weir/wal"
)

// TestAckedIsReadable: every acknowledged produce is readable the moment
// its ack arrives, with the acknowledged offset and body, while many
// producers keep the writer writing batches ahead of their syncs. It
// guards the order the writer depends on: a batch's sync raises the log's
// readable end before its requests are answered, and nothing is answered
// before the sync covering it returned.
func TestAckedIsReadable(t *testing.T) {
	e := startEngine(t, testConfig(t.TempDir()))
	ctx := context.Background()
	if _, _, err := e.CreateTopic(ctx, "default", "acks", config.TopicProps{Partitions: 1, TTLMillis: config.TTLForever}); err != nil {
		t.Fatal(err)
	}
	const producers, each = 32, 40
	var wg sync.WaitGroup
	errs := make(chan error, producers)
	offsets := make(chan int64, producers*each)
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				body := fmt.Appendf(nil, "producer %d event %d %s", p, i, bytes.Repeat([]byte{'x'}, 2000))
				res, err := e.Produce(ctx, config.ProduceRequest{Namespace: "default", Topic: "acks",
					Messages: []config.Message{{Body: body}}})
				if err != nil {
					errs <- err
					return
				}
				got, err := e.Fetch(ctx, "default", "acks", res.Partition, res.FirstOffset, 1, 0)
				if err != nil {
					errs <- err
					return
				}
				if len(got.Events) != 1 || got.Events[0].Offset != res.FirstOffset || !bytes.Equal(got.Events[0].Body, body) {
					errs <- fmt.Errorf("acked offset %d not readable right after its ack: %d events, next %d",
						res.FirstOffset, len(got.Events), got.NextOffset)
					return
				}
				offsets <- res.FirstOffset
			}
		}()
	}
	wg.Wait()
	close(errs)
	close(offsets)
	for err := range errs {
		t.Fatal(err)
	}
	seen := make(map[int64]bool)
	for off := range offsets {
		if seen[off] {
			t.Fatalf("offset %d acknowledged twice", off)
		}
		seen[off] = true
	}
	if len(seen) != producers*each {
		t.Fatalf("%d distinct offsets, want %d", len(seen), producers*each)
	}
}

// TestSyncFailureIsNeverAcked injects a failing sync under concurrent
// producers: every request covered by it (and any written behind it) is
// refused with ErrStorage, none is acknowledged, the partition restarts and
// repairs its log, later produces succeed, and every acknowledged event is
// readable at its offset, each offset acknowledged once.
func TestSyncFailureIsNeverAcked(t *testing.T) {
	faults := &wal.Faults{}
	e, err := Start(Options{Config: testConfig(t.TempDir()), Logger: testLogger(t),
		walOptions: func(o *wal.Options) { o.Faults = faults }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Stop(context.Background()) })
	ctx := tctx(t)
	if _, _, err := e.CreateTopic(ctx, "default", "faulty", config.TopicProps{Partitions: 1, TTLMillis: config.TTLForever}); err != nil {
		t.Fatal(err)
	}
	type ack struct {
		off  int64
		body []byte
	}
	var mu sync.Mutex
	var acks []ack
	var refused int
	produce := func(tag string, n int) {
		var wg sync.WaitGroup
		for p := 0; p < n; p++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				body := fmt.Appendf(nil, "%s-%d", tag, p)
				res, err := e.Produce(ctx, config.ProduceRequest{Namespace: "default", Topic: "faulty",
					Messages: []config.Message{{Body: body}}})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					acks = append(acks, ack{res.FirstOffset, body})
				case errors.Is(err, config.ErrStorage) || errors.Is(err, config.ErrUnavailable):
					refused++
				default:
					t.Errorf("produce %s: %v", body, err)
				}
			}()
		}
		wg.Wait()
	}
	produce("before", 8)
	faults.FailSyncs(1)
	produce("during", 32)
	if refused == 0 {
		t.Fatalf("a failed sync refused no request (%d acked); syncs so far %d", len(acks), faults.Syncs())
	}
	// The partition restarts and repairs its log; produce until it takes
	// writes again.
	deadline := time.Now().Add(10 * time.Second)
	for {
		before := len(acks)
		produce("after", 1)
		if len(acks) > before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("partition did not recover from the failed sync")
		}
		time.Sleep(20 * time.Millisecond)
	}
	seen := map[int64]bool{}
	for _, a := range acks {
		if seen[a.off] {
			t.Fatalf("offset %d acknowledged twice", a.off)
		}
		seen[a.off] = true
		got, err := e.Fetch(ctx, "default", "faulty", 0, a.off, 1, 0)
		if err != nil || len(got.Events) != 1 || got.Events[0].Offset != a.off || !bytes.Equal(got.Events[0].Body, a.body) {
			t.Fatalf("acked %q at %d not there after the failure: %+v, %v", a.body, a.off, got.Events, err)
		}
	}
	t.Logf("%d acked, %d refused, %d syncs", len(acks), refused, faults.Syncs())
}
