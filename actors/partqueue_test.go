package actors

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/weirflow/weir/config"
)

// ackedEvent is one acknowledged single-message produce.
type ackedEvent struct {
	partition int
	offset    int64
	body      string
}

// produceUntil runs producers keyless single-message produces against
// default/topic until stop is closed, recording every ack; errors that
// allowed does not accept fail the test.
func produceUntil(t *testing.T, e *Engine, topic string, producers int, stop <-chan struct{}, allowed func(error) bool) (acks func() []ackedEvent, wait func()) {
	t.Helper()
	var mu sync.Mutex
	var out []ackedEvent
	var wg sync.WaitGroup
	ctx := tctx(t)
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := fmt.Sprintf("w%d-%d", p, i)
				r, err := e.Produce(ctx, config.ProduceRequest{Namespace: "default", Topic: topic,
					Messages: []config.Message{{Body: []byte(body)}}})
				if err != nil {
					if !allowed(err) {
						t.Errorf("produce: %v", err)
						return
					}
					continue
				}
				mu.Lock()
				out = append(out, ackedEvent{r.Partition, r.FirstOffset, body})
				mu.Unlock()
			}
		}()
	}
	return func() []ackedEvent { mu.Lock(); defer mu.Unlock(); return out }, wg.Wait
}

// checkAcked reads every partition and checks that each acknowledged event
// at or after the partition's first offset is there with its body, and that
// timestamps strictly grow with offsets (the order the topic stamped them
// is the order they were written).
func checkAcked(t *testing.T, e *Engine, topic string, partitions int, acked []ackedEvent) {
	t.Helper()
	ctx := tctx(t)
	bodies := make([]map[int64]string, partitions)
	first := make([]int64, partitions)
	for p := 0; p < partitions; p++ {
		bodies[p] = map[int64]string{}
		var lastTS int64
		lastOff := int64(-1)
		for off := int64(0); ; {
			fr, err := e.Fetch(ctx, "default", topic, p, off, 1000, 0)
			if err != nil {
				t.Fatal(err)
			}
			if off == 0 {
				first[p] = fr.FirstOffset
			}
			for _, ev := range fr.Events {
				if ev.Offset <= lastOff || ev.Timestamp <= lastTS {
					t.Fatalf("partition %d: offset %d ts %d after offset %d ts %d", p, ev.Offset, ev.Timestamp, lastOff, lastTS)
				}
				lastOff, lastTS = ev.Offset, ev.Timestamp
				bodies[p][ev.Offset] = string(ev.Body)
			}
			if len(fr.Events) == 0 || lastOff+1 >= fr.NextOffset {
				break
			}
			off = lastOff + 1
		}
	}
	seen := map[[2]int64]bool{}
	for _, a := range acked {
		k := [2]int64{int64(a.partition), a.offset}
		if seen[k] {
			t.Fatalf("offset %d of partition %d acknowledged twice", a.offset, a.partition)
		}
		seen[k] = true
		if a.offset < first[a.partition] {
			continue // truncated
		}
		if got, ok := bodies[a.partition][a.offset]; !ok || got != a.body {
			t.Fatalf("acked %q at partition %d offset %d; log holds %q (present %v)", a.body, a.partition, a.offset, got, ok)
		}
	}
}

// The topic queues appends on the partition's writer directly, so a
// truncate's flush can no longer count on nothing new arriving while it
// waits. Truncates under continuous load must still return (they wait
// only for what was queued before them), and lose nothing acknowledged
// after them.
func TestDirectQueueTruncateUnderLoad(t *testing.T) {
	e := startEngine(t, testConfig(t.TempDir()))
	ctx := tctx(t)
	if _, _, err := e.CreateTopic(ctx, "default", "tq", config.TopicProps{Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	acks, wait := produceUntil(t, e, "tq", 64, stop, func(error) bool { return false })
	for i := 0; i < 5; i++ {
		deadline := time.Now().Add(5 * time.Second)
		for len(acks()) < 200*(i+1) && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if err := e.TruncateTopic(ctx, "default", "tq"); err != nil {
			t.Fatalf("truncate %d under load: %v", i, err)
		}
	}
	// Let some acks land after the last truncate before stopping.
	n := len(acks())
	deadline := time.Now().Add(5 * time.Second)
	for len(acks()) < n+200 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wait()
	checkAcked(t, e, "tq", 2, acks())
}

// A partition restart detaches its writer: appends then go through the
// partition's mailbox until the reopened log's writer is attached and every
// mailbox append is handed over. Across several restarts under load nothing
// acknowledged is lost, every failure is the restart's refusal, timestamps
// still grow with offsets (no direct append overtook a mailbox one), and
// appends flow directly again afterwards.
func TestDirectQueueAcrossPartitionRestart(t *testing.T) {
	e := startEngine(t, testConfig(t.TempDir()))
	ctx := tctx(t)
	if _, _, err := e.CreateTopic(ctx, "default", "rq", config.TopicProps{Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	mustProduce(t, e, config.ProduceRequest{Namespace: "default", Topic: "rq", Messages: msgs("first", 1)})
	v, ok := e.topicPIDs.Load(nsKey("default", "rq"))
	if !ok {
		t.Fatal("topic actor not cached")
	}
	part := actor.NewPID(v.(*actor.PID).Address, v.(*actor.PID).Id+"/"+partitionName(0))
	var refused atomic.Int64
	stop := make(chan struct{})
	acks, wait := produceUntil(t, e, "rq", 32, stop, func(err error) bool {
		if errors.Is(err, config.ErrStorage) {
			refused.Add(1)
			return true
		}
		return false
	})
	for i := 0; i < 10; i++ {
		n := len(acks())
		deadline := time.Now().Add(5 * time.Second)
		for len(acks()) < n+50 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		restartActor(t, e, part)
	}
	n := len(acks())
	deadline := time.Now().Add(5 * time.Second)
	for len(acks()) < n+200 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wait()
	if len(acks()) < n+200 {
		t.Fatalf("appends did not resume after the restarts: %d acks, %d before", len(acks()), n)
	}
	checkAcked(t, e, "rq", 1, acks())
	t.Logf("%d acks, %d refused by restarts", len(acks()), refused.Load())
}

// partQueue's ordering rule, step by step: once a request went through the
// mailbox, later ones follow it there until the partition has handed every
// mailbox request to the writer, even if a writer was attached meanwhile;
// the in-flight cap and a stopped partition refuse.
func TestPartQueueOrder(t *testing.T) {
	sys := actor.NewActorSystem()
	w := &writer{what: "test partition"}
	w.cond.L = &w.mu
	q := &partQueue{limit: 5}
	reqs := make([]*appendReq, 7)
	answers := make([]chan produceAnswer, len(reqs))
	for i := range reqs {
		answers[i] = make(chan produceAnswer, 1)
		reqs[i] = &appendReq{Reply: replyTo{ch: answers[i]}}
	}
	steps := []struct {
		name   string
		do     func() bool // reports whether push queued directly
		direct bool
	}{
		{"no writer: mailbox", func() bool { return q.push(sys, reqs[0]) }, false},
		{"writer attached, mailbox pending: mailbox", func() bool { q.attach(w); return q.push(sys, reqs[1]) }, false},
		{"one handed over, one pending: mailbox", func() bool { q.fromMailbox(sys, reqs[0], w, nil); return q.push(sys, reqs[2]) }, false},
		{"all handed over: direct", func() bool {
			q.fromMailbox(sys, reqs[1], w, nil)
			q.fromMailbox(sys, reqs[2], w, nil)
			return q.push(sys, reqs[3])
		}, true},
		{"direct again", func() bool { return q.push(sys, reqs[4]) }, true},
		{"over the cap: refused, not queued", func() bool { return q.push(sys, reqs[5]) }, true},
	}
	for _, s := range steps {
		if got := s.do(); got != s.direct {
			t.Fatalf("%s: direct %v, want %v", s.name, got, s.direct)
		}
	}
	if len(w.queue) != 5 {
		t.Fatalf("writer queue holds %d requests, want 5", len(w.queue))
	}
	for i, r := range w.queue {
		if r != reqs[i] {
			t.Fatalf("writer queue position %d holds request %p, want request %d", i, r, i)
		}
	}
	if a := <-answers[5]; !errors.Is(a.err, config.ErrBusy) {
		t.Fatalf("request over the cap answered %v, want ErrBusy", a.err)
	}
	stopped := mapActorErr(actor.ErrDeadLetter, "produce")
	q.detach(stopped)
	if !q.push(sys, reqs[6]) {
		t.Fatal("push to a stopped partition went to its mailbox")
	}
	if a := <-answers[6]; !errors.Is(a.err, errStopped) {
		t.Fatalf("push to a stopped partition answered %v, want errStopped", a.err)
	}
}

// The topic actor restarted under keyed and keyless producers on four
// partitions: it builds new partition queues while the old partitions'
// writers are detached and stopped. Every refusal is the restart's, nothing
// acknowledged is lost, keys keep their partition, and timestamps grow
// with offsets on every partition (the clock is reseeded from the logs).
func TestDirectQueueAcrossTopicRestart(t *testing.T) {
	e := startEngine(t, testConfig(t.TempDir()))
	ctx := tctx(t)
	if _, _, err := e.CreateTopic(ctx, "default", "rt", config.TopicProps{Partitions: 4}); err != nil {
		t.Fatal(err)
	}
	mustProduce(t, e, config.ProduceRequest{Namespace: "default", Topic: "rt", Messages: msgs("first", 1)})
	v, ok := e.topicPIDs.Load(nsKey("default", "rt"))
	if !ok {
		t.Fatal("topic actor not cached")
	}
	pid := v.(*actor.PID)
	var mu sync.Mutex
	var acked []ackedEvent
	var refused atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for p := 0; p < 32; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := fmt.Sprintf("w%d-%d", p, i)
				req := config.ProduceRequest{Namespace: "default", Topic: "rt", Messages: []config.Message{{Body: []byte(body)}}}
				if p%2 == 0 {
					req.Key = []byte(fmt.Sprintf("k%d", i%16))
				}
				r, err := e.Produce(ctx, req)
				if err != nil {
					if errors.Is(err, config.ErrStorage) || errors.Is(err, config.ErrUnavailable) {
						refused.Add(1)
						continue
					}
					t.Errorf("produce: %v", err)
					return
				}
				if p%2 == 0 && r.Partition != config.PartitionForKey(req.Key, 4) {
					t.Errorf("key %s went to partition %d", req.Key, r.Partition)
					return
				}
				mu.Lock()
				acked = append(acked, ackedEvent{r.Partition, r.FirstOffset, body})
				mu.Unlock()
			}
		}()
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	for i := 0; i < 3; i++ {
		n := count()
		deadline := time.Now().Add(5 * time.Second)
		for count() < n+100 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		restartActor(t, e, pid)
	}
	n := count()
	deadline := time.Now().Add(5 * time.Second)
	for count() < n+200 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if count() < n+200 {
		t.Fatalf("produce did not resume after the topic restarts: %d acks, %d before", count(), n)
	}
	checkAcked(t, e, "rt", 4, acked)
	t.Logf("%d acks, %d refused by restarts", len(acked), refused.Load())
}
