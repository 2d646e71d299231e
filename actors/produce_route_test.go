package actors

import (
	"errors"
	"testing"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/weirflow/weir/config"
)

// Produce sends straight to a cached topic actor. A cache entry that
// outlived its incarnation (a delete racing with the cache fill) must
// neither lose the request nor write it into the deleted incarnation: the
// dead letter sends it through the manager again.
func TestProduceStaleTopicCache(t *testing.T) {
	e := startEngine(t, testConfig(t.TempDir()))
	ctx := tctx(t)
	key := nsKey("default", "t")
	if _, _, err := e.CreateTopic(ctx, "default", "t", config.TopicProps{Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if r := mustProduce(t, e, config.ProduceRequest{Namespace: "default", Topic: "t", Messages: msgs("old", 1)}); r.FirstOffset != int64(i) {
			t.Fatalf("produce %d at offset %d", i, r.FirstOffset)
		}
	}
	v, ok := e.topicPIDs.Load(key)
	if !ok {
		t.Fatal("produce did not cache the topic actor")
	}
	old := v.(*actor.PID)

	// Deleted: a stale entry answers "not found", not "unavailable".
	if err := e.DeleteTopic(ctx, "default", "t"); err != nil {
		t.Fatal(err)
	}
	e.topicPIDs.Store(key, old)
	if _, err := e.Produce(ctx, config.ProduceRequest{Namespace: "default", Topic: "t", Messages: msgs("x", 1)}); !errors.Is(err, config.ErrTopicNotFound) {
		t.Fatalf("produce through a stale entry to a deleted topic: %v, want ErrTopicNotFound", err)
	}
	if _, ok := e.topicPIDs.Load(key); ok {
		t.Fatal("stale entry kept after its dead letter")
	}

	// Re-created: the request lands in the new incarnation at offset 0.
	info, _, err := e.CreateTopic(ctx, "default", "t", config.TopicProps{Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	e.topicPIDs.Store(key, old)
	r := mustProduce(t, e, config.ProduceRequest{Namespace: "default", Topic: "t", Messages: msgs("new", 2)})
	if r.FirstOffset != 0 || r.Count != 2 {
		t.Fatalf("produce through a stale entry after re-create: %+v, want offset 0 in the new incarnation", r)
	}
	fr, err := e.Fetch(ctx, "default", "t", 0, 0, 10, 0)
	if err != nil || len(fr.Events) != 2 || string(fr.Events[0].Body) != "new-0" {
		t.Fatalf("new incarnation %s holds %+v, %v", info.ID, fr.Events, err)
	}
	if v, _ := e.topicPIDs.Load(key); v == nil || v.(*actor.PID).Equal(old) {
		t.Fatalf("cache entry %v not replaced by the new incarnation's actor", v)
	}
}

// Group commit with the write running beside the actor: concurrent
// producers share fsyncs (batches of more than one request), every ack is a
// distinct offset, the acked offsets are exactly 0..n-1, and a truncate
// issued in the middle waits for the write in flight rather than racing it.
func TestGroupCommitPipelined(t *testing.T) {
	e := startEngine(t, testConfig(t.TempDir()))
	ctx := tctx(t)
	if _, _, err := e.CreateTopic(ctx, "default", "g", config.TopicProps{Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	const producers, each = 32, 20
	sum0, cnt0 := histogram(e)
	offsets := make(chan int64, producers*each)
	errs := make(chan error, producers)
	for p := 0; p < producers; p++ {
		go func() {
			for i := 0; i < each; i++ {
				r, err := e.Produce(ctx, config.ProduceRequest{Namespace: "default", Topic: "g", Messages: msgs("m", 1)})
				if err != nil {
					errs <- err
					return
				}
				offsets <- r.FirstOffset
			}
			errs <- nil
		}()
	}
	for p := 0; p < producers; p++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(offsets)
	seen := make([]bool, producers*each)
	for off := range offsets {
		if off < 0 || off >= int64(len(seen)) || seen[off] {
			t.Fatalf("ack with offset %d: out of range or repeated", off)
		}
		seen[off] = true
	}
	sum1, cnt1 := histogram(e)
	if writes := cnt1 - cnt0; writes == 0 || (sum1-sum0)/float64(writes) <= 1.5 {
		t.Fatalf("%d events in %d writes: producers did not share fsyncs", int(sum1-sum0), writes)
	}

	// Truncate while producers are writing: each ack is either before the
	// truncate (gone after it) or after (readable), never lost in between.
	done := make(chan []int64)
	go func() {
		var acked []int64
		for i := 0; i < 200; i++ {
			r, err := e.Produce(ctx, config.ProduceRequest{Namespace: "default", Topic: "g", Messages: msgs("late", 1)})
			if err != nil {
				t.Error(err)
				break
			}
			acked = append(acked, r.FirstOffset)
		}
		done <- acked
	}()
	if err := e.TruncateTopic(ctx, "default", "g"); err != nil {
		t.Fatal(err)
	}
	acked := <-done
	fr, err := e.Fetch(ctx, "default", "g", 0, 0, 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	kept := map[int64]bool{}
	for _, ev := range fr.Events {
		kept[ev.Offset] = true
	}
	for _, off := range acked {
		if off >= fr.FirstOffset && !kept[off] {
			t.Fatalf("acked offset %d (after the truncate point %d) is missing", off, fr.FirstOffset)
		}
	}
	if last := acked[len(acked)-1]; fr.NextOffset != last+1 {
		t.Fatalf("next offset %d after the last ack %d", fr.NextOffset, last)
	}
}
