package actors

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/weirflow/weir/config"
	"github.com/weirflow/weir/wal"
)

// topic is one topic incarnation: properties, routing (key → Murmur3 token
// range, keyless round robin), the append clock, notification counting, and
// fan-out of multi-partition work. It never touches a file; its children,
// the partition actors, do.
type topic struct {
	sh    *shared
	ns    string
	name  string
	id    string
	dir   string
	props config.TopicProps
	log   zerolog.Logger

	parts      []*actor.PID
	queues     []*partQueue // parts' writers, reached without a mailbox hop
	ready      []bool
	readyCount int
	stash      []stashed

	// lastTS is the newest append time handed out; seeded from the
	// partitions' newest records so times stay strictly increasing across
	// restarts even if the wall clock went back.
	lastTS int64
	rr     int

	notifyCount int64
	notifiedAt  int64

	// gone is closed once this incarnation has stopped (see shared.topicGone);
	// shared by the instances a restart creates.
	gone chan struct{}
}

type stashed struct {
	msg    any
	sender *actor.PID
}

func newTopicProps(sh *shared, ns, name string, rec *topicRecord, dir string, gone chan struct{}) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor {
		return &topic{sh: sh, ns: ns, name: name, id: rec.ID, dir: dir, props: rec.Props,
			notifyCount: rec.NotifyCount, notifiedAt: rec.NotifiedAt, gone: gone,
			log: sh.log.With().Str("namespace", ns).Str("topic", name).Str("topic_id", rec.ID).Logger()}
	}, actor.WithSupervisor(actor.NewRestartingStrategy()))
}

func partitionName(i int) string { return "p-" + strconv.Itoa(i) }

func (t *topic) Receive(ctx actor.Context) {
	defer logPanic(t.log, ctx)
	switch m := ctx.Message().(type) {
	case *actor.Started:
		t.start(ctx)
	case *partitionReady:
		if m.LastTimestamp > t.lastTS {
			t.lastTS = m.LastTimestamp
		}
		if !t.ready[m.Partition] {
			t.ready[m.Partition] = true
			t.readyCount++
			if t.readyCount == len(t.parts) {
				// The clock is seeded: serve what arrived meanwhile, in order.
				st := t.stash
				t.stash = nil
				for _, s := range st {
					t.handle(ctx, s.sender, s.msg)
				}
			}
		}
	case *partitionAppended:
		t.onAppended(ctx, m)
	case *setTopicProps:
		t.props = m.Props
	case *actor.Stopped:
		// The partitions (children) have stopped and answered what they
		// held; whatever is still unanswered never will be.
		t.sh.topicGone.Delete(ctx.Self().Id)
		close(t.gone)
	case *actor.Stopping, *actor.Restarting:
	default:
		if t.readyCount < len(t.parts) {
			t.stash = append(t.stash, stashed{msg: m, sender: ctx.Sender()})
			return
		}
		t.handle(ctx, ctx.Sender(), m)
	}
}

func (t *topic) start(ctx actor.Context) {
	n := t.props.Partitions
	t.parts = make([]*actor.PID, n)
	t.queues = make([]*partQueue, n)
	t.ready = make([]bool, n)
	t.readyCount = 0
	for i := 0; i < n; i++ {
		t.queues[i] = &partQueue{limit: t.sh.cfg.Storage.MaxInflightAppends}
		pid, err := ctx.SpawnNamed(newPartitionProps(t.sh, t.ns, t.name, t.id, i, filepath.Join(t.dir, partitionName(i)), t.queues[i]), partitionName(i))
		if err != nil {
			// Only a name clash can fail here, which would be a bug.
			panic(fmt.Sprintf("spawn partition %d: %v", i, err))
		}
		t.parts[i] = pid
	}
}

func (t *topic) handle(ctx actor.Context, sender *actor.PID, msg any) {
	switch m := msg.(type) {
	case *produceReq:
		t.onProduce(ctx, sender, m)
	case *fetchReq:
		if m.Partition < 0 || m.Partition >= len(t.parts) {
			respondTo(ctx, sender, &failure{err: fmt.Errorf("%w: %s/%s has %d partitions, not %d",
				config.ErrPartitionNotFound, t.ns, t.name, len(t.parts), m.Partition)})
			return
		}
		ctx.RequestWithCustomSender(t.parts[m.Partition],
			&partitionFetch{From: m.Offset, MaxEvents: m.MaxEvents, MaxBytes: m.MaxBytes}, sender)
	case *readRangeReq:
		from := m.From
		if min := t.minTimestamp(); from < min {
			from = min
		}
		parts, to, limit, sys, timeout := t.parts, m.To, m.Limit, t.sh.system, t.sh.reqTimeout
		// The merge pages through several partitions and waits for each
		// page, so it runs outside Receive and answers the caller itself.
		go func() {
			events, err := mergeRange(sys, parts, from, to, limit, timeout)
			if err != nil {
				sys.Root.Send(sender, &failure{err: err})
				return
			}
			sys.Root.Send(sender, &readRangeResp{Events: events})
		}()
	case *toPartition:
		if m.Partition < 0 || m.Partition >= len(t.parts) {
			respondTo(ctx, sender, &failure{err: fmt.Errorf("%w: %s/%s has %d partitions, not %d",
				config.ErrPartitionNotFound, t.ns, t.name, len(t.parts), m.Partition)})
			return
		}
		ctx.RequestWithCustomSender(t.parts[m.Partition], m.Msg, sender)
	case *truncateReq:
		t.fanOut(sender, func(int) any { return &partitionTruncate{} }, &okResp{})
	case *topicRetention:
		min := t.minTimestamp()
		t.fanOut(sender, func(int) any { return &partitionRetention{MinTimestamp: min} }, &okResp{})
	case *topicDrain:
		t.fanOut(sender, func(int) any { return &partitionDrain{} }, &topicDrained{
			NS: t.ns, Topic: t.name, ID: t.id, NotifyCount: t.notifyCount, NotifiedAt: t.notifiedAt})
	}
}

func respondTo(ctx actor.Context, to *actor.PID, msg any) {
	if to != nil {
		ctx.Send(to, msg)
	}
}

func (t *topic) onProduce(ctx actor.Context, sender *actor.PID, m *produceReq) {
	req := m.Req
	n := len(t.parts)
	var p int
	if len(req.Key) > 0 {
		p = config.PartitionForKey(req.Key, n)
	} else if len(req.Messages) > 0 {
		p = t.rr % n
		t.rr = (t.rr + 1) % n
	}
	reply := m.replyTo(sender)
	if len(req.Messages) == 0 {
		reply.ok(t.sh.system, config.ProduceResult{Partition: p, FirstOffset: -1})
		return
	}
	ts := time.Now().UnixMicro()
	if ts <= t.lastTS {
		ts = t.lastTS + 1
	}
	t.lastTS = ts
	a := &appendReq{Counted: !req.Uncounted && t.name != config.NotificationsTopic, Reply: reply}
	if len(req.Messages) == 1 {
		a.Records = a.one[:]
	} else {
		a.Records = make([]wal.Record, len(req.Messages))
	}
	for i, msg := range req.Messages {
		a.Records[i] = wal.Record{Timestamp: ts, Headers: msg.Headers, Key: req.Key, Body: msg.Body}
		a.bytes += len(msg.Body)
	}
	if !t.queues[p].push(t.sh.system, a) {
		ctx.Send(t.parts[p], a)
	}
}

// minTimestamp is the oldest append time still readable under the TTL
// (0 when nothing has expired).
func (t *topic) minTimestamp() int64 {
	return ttlMinTimestamp(t.props.TTLMillis, time.Now().UnixMicro())
}

func ttlMinTimestamp(ttlMillis, nowMicros int64) int64 {
	if ttlMillis < 0 || ttlMillis >= math.MaxInt64/1000 || ttlMillis*1000 >= nowMicros {
		return 0
	}
	return nowMicros - ttlMillis*1000
}

// onAppended counts body bytes for notifications (spec/cdap-streams.md §9.2):
// one event per check, however many thresholds were crossed.
func (t *topic) onAppended(ctx actor.Context, m *partitionAppended) {
	t.notifyCount += m.CountedBytes
	threshold := int64(t.props.NotificationThresholdMB)
	if threshold <= 0 {
		threshold = config.DefaultNotificationThresholdMB
	}
	if t.notifyCount-t.notifiedAt <= threshold*1048576 {
		return
	}
	t.notifiedAt = t.notifyCount
	body, _ := json.Marshal(struct {
		Stream    string `json:"stream"`
		Namespace string `json:"namespace"`
		Timestamp int64  `json:"timestamp"`
		Size      int64  `json:"size"`
	}{t.name, t.ns, time.Now().UnixMilli(), t.notifyCount})
	t.log.Info().Int64("size", t.notifyCount).Msg("notification threshold crossed")
	ctx.Send(ctx.Parent(), &produceReq{Req: config.ProduceRequest{
		Namespace: t.ns, Topic: config.NotificationsTopic, CreateTopic: true, Uncounted: true,
		Messages: []config.Message{{Body: body}},
	}})
	ctx.Send(ctx.Parent(), &notifyCounters{NS: t.ns, Topic: t.name, ID: t.id,
		NotifyCount: t.notifyCount, NotifiedAt: t.notifiedAt})
}

// fanOut sends one message to every partition from a goroutine, waits for
// all answers there (not in Receive) and answers the requester with ok or
// the first failure.
func (t *topic) fanOut(sender *actor.PID, mk func(i int) any, ok any) {
	parts, sys, timeout := t.parts, t.sh.system, t.sh.reqTimeout
	go func() {
		errs := make([]error, len(parts))
		futs := make([]*actor.Future, len(parts))
		for i, pid := range parts {
			futs[i] = sys.Root.RequestFuture(pid, mk(i), timeout)
		}
		for i, f := range futs {
			res, err := f.Result()
			if err == nil {
				err = replyErr(res)
			}
			errs[i] = mapActorErr(err, "partition "+strconv.Itoa(i))
		}
		for _, err := range errs {
			if err != nil {
				if sender != nil {
					sys.Root.Send(sender, &failure{err: err})
				}
				return
			}
		}
		if sender != nil {
			sys.Root.Send(sender, ok)
		}
	}()
}

// mergeRange reads [from, to) from every partition and merges by
// (timestamp, partition, offset), keeping the first limit events. Each
// partition is paged lazily (bounded reads), and the first pages are
// requested in parallel.
func mergeRange(sys *actor.ActorSystem, parts []*actor.PID, from, to int64, limit int, timeout time.Duration) ([]config.Event, error) {
	if limit <= 0 || from >= to {
		return nil, nil
	}
	curs := make([]*rangeCursor, len(parts))
	futs := make([]*actor.Future, len(parts))
	page := func(c *rangeCursor, want int) *actor.Future {
		req := &partitionRange{FromTime: from, FromOffset: c.next, To: to, MaxEvents: want, MaxBytes: fetchMaxBytes}
		if !c.started {
			req.FromOffset = -1
		}
		return sys.Root.RequestFuture(c.pid, req, timeout)
	}
	collect := func(c *rangeCursor, f *actor.Future) error {
		res, err := f.Result()
		if err == nil {
			err = replyErr(res)
		}
		if err != nil {
			return mapActorErr(err, fmt.Sprintf("read partition %d", c.index))
		}
		r := res.(*rangeResp)
		c.started = true
		c.buf = r.Events
		c.next = r.Next
		c.done = r.Done || len(r.Events) == 0
		return nil
	}
	want := min(limit, fetchMaxEvents)
	for i, pid := range parts {
		curs[i] = &rangeCursor{pid: pid, index: i}
		futs[i] = page(curs[i], want)
	}
	h := &eventHeap{}
	for i, c := range curs {
		if err := collect(c, futs[i]); err != nil {
			return nil, err
		}
		if len(c.buf) > 0 {
			heap.Push(h, c)
		}
	}
	var out []config.Event
	for h.Len() > 0 && len(out) < limit {
		c := (*h)[0]
		out = append(out, c.buf[0])
		c.buf = c.buf[1:]
		if len(c.buf) == 0 && !c.done {
			if err := collect(c, page(c, min(limit-len(out), fetchMaxEvents))); err != nil {
				return nil, err
			}
		}
		if len(c.buf) == 0 {
			heap.Pop(h)
		} else {
			heap.Fix(h, 0)
		}
	}
	return out, nil
}

type rangeCursor struct {
	pid     *actor.PID
	index   int
	started bool
	next    int64
	done    bool
	buf     []config.Event
}

type eventHeap []*rangeCursor

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	a, b := h[i].buf[0], h[j].buf[0]
	if a.Timestamp != b.Timestamp {
		return a.Timestamp < b.Timestamp
	}
	if a.Partition != b.Partition {
		return a.Partition < b.Partition
	}
	return a.Offset < b.Offset
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(*rangeCursor)) }
func (h *eventHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
