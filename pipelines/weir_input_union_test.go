package pipelines

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/weirflow/weir/config"
)

// commitRecorder keeps every offset the input commits, with its topic.
type commitRecorder struct {
	*fakeTopics
	mu  sync.Mutex
	got []config.PartitionOffset
}

func (c *commitRecorder) Commit(ctx context.Context, ns, member string, offs []config.PartitionOffset) error {
	c.mu.Lock()
	c.got = append(c.got, offs...)
	c.mu.Unlock()
	return c.fakeTopics.Commit(ctx, ns, member, offs)
}

// A group assigns every member over the union of the members' topics, so
// the input may be handed partitions of a topic it did not name. Each
// chunk's acknowledgements must be committed against that chunk's own
// topic and partition: keyed by partition alone, a chunk of topic u moved
// the commit of topic t (skipping t's events) and u was never committed.
func TestWeirInputCommitsPerTopicOfChunk(t *testing.T) {
	f := newFakeTopics()
	f.parts = 1
	f.create("default", "t")
	rec := &commitRecorder{fakeTopics: f}
	in := &weirInput{topics: rec, ns: "default", topic: "t", group: "g", member: "stream/x", startFrom: config.StartEarliest,
		stopc: make(chan struct{}), doneC: make(chan struct{})}
	ctx := context.Background()
	if err := in.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer in.Close(ctx)
	ev := func(offs ...int64) []config.Event {
		out := make([]config.Event, len(offs))
		for i, o := range offs {
			out[i] = config.Event{Partition: 0, Offset: o, Body: []byte("x")}
		}
		return out
	}
	in.mu.Lock()
	_, ackU := in.deliver(config.Chunk{Topic: "u", Partition: 0, StartOffset: 0, Events: ev(0, 1, 2)})
	_, ackT := in.deliver(config.Chunk{Topic: "t", Partition: 0, StartOffset: 0, Events: ev(0)})
	in.mu.Unlock()
	if err := ackU(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := ackT(ctx, nil); err != nil {
		t.Fatal(err)
	}
	in.flushCommits()
	rec.mu.Lock()
	got := slices.Clone(rec.got)
	rec.mu.Unlock()
	slices.SortFunc(got, func(a, b config.PartitionOffset) int {
		if a.Topic < b.Topic {
			return -1
		}
		if a.Topic > b.Topic {
			return 1
		}
		return 0
	})
	want := []config.PartitionOffset{{Topic: "t", Partition: 0, Offset: 1}, {Topic: "u", Partition: 0, Offset: 3}}
	if !slices.Equal(got, want) {
		t.Fatalf("committed %+v, want %+v", got, want)
	}
}
