package pipelines

import (
	"context"
	"errors"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benthosdev/benthos/v4/public/service"
	"github.com/rs/zerolog"

	"github.com/weirflow/weir/config"
)

func newTestEnv(t *testing.T, topics Topics) *Environment {
	t.Helper()
	env, err := NewEnvironment(Options{Topics: topics, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func startStream(t *testing.T, env *Environment, id, cfg string) *Running {
	t.Helper()
	p, err := env.CheckStream([]byte(cfg), false)
	if err != nil {
		t.Fatal(err)
	}
	r, err := env.Start(StartOptions{ID: id, Stream: p})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Stop(5 * time.Second) })
	return r
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The output stores metadata as headers (never weir_* keys), the
// interpolated key as the event key, one atomic produce per key, and creates
// the topic.
func TestWeirOutputKeysAndHeaders(t *testing.T) {
	f := newFakeTopics()
	env := newTestEnv(t, f)
	r := startStream(t, env, "out", `
input:
  generate:
    count: 4
    batch_size: 4
    interval: ""
    mapping: |
      root = {"k": if counter() % 2 == 0 { "even" } else { "odd" }}
      meta a = "1"
      meta weir_x = "no"
output:
  weir:
    topic: t
    partition_key: ${! this.k }
`)
	<-r.Ended()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.produced) != 2 {
		t.Fatalf("%d produce requests, want one per key", len(f.produced))
	}
	keys := map[string]int{}
	for _, req := range f.produced {
		if !req.CreateTopic || req.Namespace != "default" || req.Topic != "t" {
			t.Fatalf("request %+v", req)
		}
		keys[string(req.Key)] += len(req.Messages)
		for _, m := range req.Messages {
			if !reflect.DeepEqual(m.Headers, map[string]string{"a": "1"}) {
				t.Fatalf("headers %v", m.Headers)
			}
		}
	}
	if !reflect.DeepEqual(keys, map[string]int{"even": 2, "odd": 2}) {
		t.Fatalf("keys %v", keys)
	}
}

func TestWeirOutputMissingNamespaceNotConnected(t *testing.T) {
	f := newFakeTopics()
	env := newTestEnv(t, f)
	r := startStream(t, env, "out", "input:\n  generate:\n    interval: 10ms\n    mapping: root = 1\noutput:\n  weir:\n    topic: t\n    namespace: nope\n")
	time.Sleep(200 * time.Millisecond)
	if r.Ready() {
		t.Fatal("ready without the namespace")
	}
	f.mu.Lock()
	f.namespaces["nope"] = true
	f.mu.Unlock()
	waitFor(t, "ready once the namespace exists", r.Ready)
	waitFor(t, "produced", func() bool { f.mu.Lock(); defer f.mu.Unlock(); return len(f.produced) > 0 })
}

// Commits advance only over the longest acknowledged prefix of each
// partition.
func TestWeirInputCommitsContiguousAcks(t *testing.T) {
	f := newFakeTopics()
	f.parts = 1
	f.create("default", "t")
	for i := 0; i < 3; i++ {
		if _, err := f.Produce(context.Background(), config.ProduceRequest{Namespace: "default", Topic: "t", Messages: []config.Message{{Body: []byte("a")}, {Body: []byte("b")}}}); err != nil {
			t.Fatal(err)
		}
	}
	in := &weirInput{topics: f, ns: "default", topic: "t", group: "g", member: "stream/x", startFrom: config.StartEarliest,
		stopc: make(chan struct{}), doneC: make(chan struct{})}
	ctx := context.Background()
	if err := in.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer in.Close(ctx)
	// Split the single chunk into three deliveries of two events each.
	res, err := f.Poll(ctx, config.PollRequest{Member: "stream/x", MaxEventsPerPartition: 10})
	if err != nil || len(res.Chunks) != 1 {
		t.Fatalf("%v %v", res, err)
	}
	var acks []service.AckFunc
	in.mu.Lock()
	for i := 0; i < 3; i++ {
		c := res.Chunks[0]
		c.Events = c.Events[i*2 : i*2+2]
		_, ack := in.deliver(c)
		acks = append(acks, ack)
	}
	in.mu.Unlock()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(acks[1](ctx, nil))
	in.flushCommits()
	if c := f.committedOf("g")[0]; c != 0 {
		t.Fatalf("committed %d before the first batch was acked", c)
	}
	must(acks[0](ctx, nil))
	in.flushCommits()
	if c := f.committedOf("g")[0]; c != 4 {
		t.Fatalf("committed %d, want 4", c)
	}
	must(acks[2](ctx, nil))
	in.flushCommits()
	if c := f.committedOf("g")[0]; c != 6 {
		t.Fatalf("committed %d, want 6", c)
	}
}

// A nack re-delivers the batch (the output saw it twice), and the group's
// commit covers everything once delivered; a missing topic is waited for.
func TestWeirInputRedeliversAndWaitsForTopic(t *testing.T) {
	f := newFakeTopics()
	env := newTestEnv(t, f)
	var writes, failed atomic.Int64
	if err := env.Service().RegisterOutput("test_flaky", service.NewConfigSpec(),
		func(*service.ParsedConfig, *service.Resources) (service.Output, int, error) {
			return flakyOutput{writes: &writes, failed: &failed}, 1, nil
		}); err != nil {
		t.Fatal(err)
	}
	r := startStream(t, env, "in", "input:\n  weir:\n    topic: t\n    group: g\noutput:\n  test_flaky: {}\n")
	time.Sleep(100 * time.Millisecond)
	if r.Ready() {
		t.Fatal("ready before the topic exists")
	}
	f.create("default", "t")
	for i := 0; i < 5; i++ {
		if _, err := f.Produce(context.Background(), config.ProduceRequest{Namespace: "default", Topic: "t", Key: []byte("k"), Messages: []config.Message{{Headers: map[string]string{"weir_topic": "spoof", "h": "v"}, Body: []byte("x")}}}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "commit of all five", func() bool {
		var sum int64
		for _, v := range f.committedOf("g") {
			sum += v
		}
		return sum == 5
	})
	if failed.Load() != 1 || writes.Load() != 6 {
		t.Fatalf("writes %d failed %d, want 6 and 1 (one redelivery)", writes.Load(), failed.Load())
	}
}

type flakyOutput struct{ writes, failed *atomic.Int64 }

func (flakyOutput) Connect(context.Context) error { return nil }
func (o flakyOutput) Write(_ context.Context, m *service.Message) error {
	o.writes.Add(1)
	if v, _ := m.MetaGet("weir_topic"); v != "t" {
		return errors.New("weir_topic metadata must win over a header")
	}
	if v, _ := m.MetaGet("h"); v != "v" {
		return errors.New("header missing")
	}
	if v, _ := m.MetaGet("weir_key"); v != "k" {
		return errors.New("key missing")
	}
	if o.failed.CompareAndSwap(0, 1) {
		return errors.New("first write fails")
	}
	return nil
}
func (flakyOutput) Close(context.Context) error { return nil }

// Group-less reads start at start_from and commit nothing.
func TestWeirInputWithoutGroup(t *testing.T) {
	f := newFakeTopics()
	f.create("default", "t")
	if _, err := f.Produce(context.Background(), config.ProduceRequest{Namespace: "default", Topic: "t", Messages: []config.Message{{Body: []byte("old")}}}); err != nil {
		t.Fatal(err)
	}
	env := newTestEnv(t, f)
	var got atomic.Int64
	if err := env.Service().RegisterOutput("test_count", service.NewConfigSpec(),
		func(*service.ParsedConfig, *service.Resources) (service.Output, int, error) {
			return countOutput{n: &got}, 1, nil
		}); err != nil {
		t.Fatal(err)
	}
	r := startStream(t, env, "latest", "input:\n  weir:\n    topic: t\n    start_from: latest\noutput:\n  test_count: {}\n")
	waitFor(t, "connected", r.Ready)
	if _, err := f.Produce(context.Background(), config.ProduceRequest{Namespace: "default", Topic: "t", Messages: []config.Message{{Body: []byte("new")}}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new event", func() bool { return got.Load() == 1 })
	time.Sleep(100 * time.Millisecond)
	if got.Load() != 1 || f.commits != 0 {
		t.Fatalf("got %d events, %d commits", got.Load(), f.commits)
	}
}

type countOutput struct{ n *atomic.Int64 }

func (countOutput) Connect(context.Context) error { return nil }
func (o countOutput) Write(_ context.Context, m *service.Message) error {
	if b, _ := m.AsBytes(); string(b) != "new" {
		return errors.New("unexpected " + string(b))
	}
	o.n.Add(1)
	return nil
}
func (countOutput) Close(context.Context) error { return nil }

// A name weir refuses (spec 3k) does not fail the stream's creation: the
// component stays not connected, as with a namespace that does not exist.
func TestWeirRefusedNamesNotConnected(t *testing.T) {
	for _, tc := range []struct{ name, cfg string }{
		{"input topic", "input:\n  weir:\n    topic: 'bad topic/../x'\noutput:\n  drop: {}\n"},
		{"input group", "input:\n  weir:\n    topic: t\n    group: \"g\\u0001\"\noutput:\n  drop: {}\n"},
		{"input namespace", "input:\n  weir:\n    topic: t\n    namespace: a-b\noutput:\n  drop: {}\n"},
		{"output topic", "input:\n  generate:\n    interval: 10ms\n    mapping: root = 1\noutput:\n  weir:\n    topic: 'a b'\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeTopics()
			env := newTestEnv(t, f)
			r := startStream(t, env, "s", tc.cfg)
			// Connect is retried with a backoff; the stream is never ready.
			time.Sleep(200 * time.Millisecond)
			if r.Ready() {
				t.Fatal("ready with a name weir refuses")
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if len(f.produced) != 0 {
				t.Fatalf("produced %d requests to a refused name", len(f.produced))
			}
		})
	}
}
