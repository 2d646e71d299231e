package http_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestPolarSoak runs 4 producers and 3 consumers of one group at once over
// loopback HTTP for a fixed number of events (bounded well under 60 s).
// Every produced event must be consumed, each exactly once while the
// membership is stable, in production order per key; after the consumers
// commit and leave, a new member of the group receives nothing again.
func TestPolarSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test")
	}
	const (
		producers = 4
		keys      = 5  // per producer
		batches   = 50 // NDJSON requests per key
		batchLen  = 50 // events per request
		total     = producers * keys * batches * batchLen
	)
	p := newPolar(t, nil)
	consumers := []string{"c0", "c1", "c2"}
	for _, id := range consumers {
		p.mustRegister(id, "soak", "startFromEarliest", "soak")
	}
	deadline := time.Now().Add(50 * time.Second)

	type event struct {
		P, K, Seq int
	}
	type delivery struct {
		consumer string
		r        pRec
		ev       event
	}
	var (
		producing atomic.Bool
		wg        sync.WaitGroup
		mu        sync.Mutex
		got       []delivery
	)
	producing.Store(true)
	var pwg sync.WaitGroup
	for pi := 0; pi < producers; pi++ {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			seq := make([]int, keys)
			for b := 0; b < batches; b++ {
				for k := 0; k < keys; k++ {
					lines := make([]string, batchLen)
					for i := range lines {
						lines[i] = fmt.Sprintf(`{"p":%d,"k":%d,"seq":%d}`, pi, k, seq[k])
						seq[k]++
					}
					r := p.produce("soak", fmt.Sprintf("p%d-k%d", pi, k), "application/x-ndjson", []byte(strings.Join(lines, "\n")))
					if r.status != 200 {
						t.Errorf("produce: %v", r)
						return
					}
				}
			}
		}()
	}
	for _, id := range consumers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				// Read the flag before polling: a 204 that started after the
				// producers finished means this member's partitions are drained
				// (a produce's 200 makes its events visible to polls).
				done := !producing.Load()
				r := p.pollRaw(id, "&wait=500ms")
				if r.status == 204 {
					if done {
						return
					}
					continue
				}
				items := pDecodePoll(t, r)
				for _, rc := range pFlatten(t, items) {
					var ev event
					if err := json.Unmarshal([]byte(rc.value), &ev); err != nil {
						t.Errorf("value %q: %v", rc.value, err)
						return
					}
					mu.Lock()
					got = append(got, delivery{id, rc, ev})
					mu.Unlock()
				}
			}
			t.Errorf("consumer %s did not finish in time", id)
		}()
	}
	pwg.Wait()
	producing.Store(false)
	wg.Wait()
	if t.Failed() {
		return
	}

	// Exactly once, gap-free offsets per partition, one owner per partition.
	seen := map[[2]int64]bool{}
	owner := map[int]string{}
	for _, d := range got {
		k := [2]int64{int64(d.r.partition), d.r.offset}
		if seen[k] {
			t.Fatalf("partition %d offset %d delivered twice", d.r.partition, d.r.offset)
		}
		seen[k] = true
		if o, ok := owner[d.r.partition]; ok && o != d.consumer {
			t.Fatalf("partition %d read by %s and %s with stable membership", d.r.partition, o, d.consumer)
		}
		owner[d.r.partition] = d.consumer
	}
	if len(got) != total {
		t.Fatalf("%d events consumed, %d produced", len(got), total)
	}
	// Key order: each key's events arrive in production order.
	next := map[[2]int]int{}
	for _, d := range got {
		k := [2]int{d.ev.P, d.ev.K}
		if d.ev.Seq != next[k] {
			t.Fatalf("key p%d-k%d: seq %d arrived, want %d", d.ev.P, d.ev.K, d.ev.Seq, next[k])
		}
		next[k]++
	}
	if len(owner) != 4 {
		t.Fatalf("events on %d partitions, want 4", len(owner))
	}

	// Commit by leaving; committed events are never delivered again.
	for _, id := range consumers {
		p.call("POST", "/v1/consumer/goodbye?consumerId="+id, nil).is(t, 200, pHTML, "OK")
	}
	p.mustRegister("late", "soak", "startFromEarliest", "soak")
	if again := p.drain("late"); len(again) != 0 {
		t.Fatalf("%d committed events delivered again", len(again))
	}
}
