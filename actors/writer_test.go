package actors

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/weirflow/weir/config"
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
