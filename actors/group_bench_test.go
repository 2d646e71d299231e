package actors

import (
	"bytes"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/weirflow/weir/config"
)

// BenchmarkGroupAutoCommitPoll: 4 members of one group (one partition
// each) drain pre-produced 128-byte events in polls of at most 100 events
// per partition, each poll auto-committing the previous one. Small polls
// make the durable commit, not the read, the cost of a poll; this is the
// Engine path without HTTP. One iteration is one event consumed.
func BenchmarkGroupAutoCommitPoll(b *testing.B) {
	e := startEngine(b, testConfig(b.TempDir()))
	members := []string{"m0", "m1", "m2", "m3"}
	for _, m := range members {
		if _, err := e.JoinGroup(tctx(b), config.JoinRequest{Namespace: "default", Group: "g", Member: m,
			Topics: []string{"t"}, StartFrom: config.StartEarliest, CreateTopics: true}); err != nil {
			b.Fatal(err)
		}
	}
	body := bytes.Repeat([]byte("x"), 128)
	const batch = 1000
	msgs := make([]config.Message, batch)
	for i := range msgs {
		msgs[i] = config.Message{Body: body}
	}
	reqs := (b.N + batch - 1) / batch
	for i := 0; i < reqs; i++ {
		// Keyless: each request goes to the next partition.
		mustProduce(b, e, config.ProduceRequest{Namespace: "default", Topic: "t", Messages: msgs})
	}
	want := int64(reqs * batch)
	b.ResetTimer()
	var events atomic.Int64
	var wg sync.WaitGroup
	for _, m := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for events.Load() < want {
				r, err := e.Poll(tctx(b), config.PollRequest{Namespace: "default", Member: m,
					MaxEventsPerPartition: 100, AutoCommit: true})
				if err != nil {
					b.Error(err)
					return
				}
				for _, c := range r.Chunks {
					events.Add(int64(len(c.Events)))
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if got := events.Load(); got != want {
		b.Fatalf("consumed %d events, produced %d", got, want)
	}
}
