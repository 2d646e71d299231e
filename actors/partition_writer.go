package actors

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/weirflow/weir/config"
	"github.com/weirflow/weir/wal"
)

// writer is a partition's long-lived write goroutine, one per open log. The
// topic queues appends on it directly (enqueue, under a mutex, through
// partQueue; the partition actor only while no writer is attached); the writer
// takes everything queued (up to the batch caps), writes it as one
// wal.Write and goes straight back to the queue. Its syncer goroutine
// commits (syncs) what has been written: whenever a sync ends it starts the
// next one over every batch written meanwhile. So the disk syncs back to back
// while the CPU work of writing (encoding, copies, the write call) and of
// acknowledging overlaps it, and everything that arrives during one sync
// shares the next: that is the group commit. Once a batch's sync returned,
// the writer acknowledges each of its requests itself and tells the actor
// (*writeDone) so that watchers and the topic's notification counter are
// served from actor state. The actor never waits for the disk.
//
// Syncs cover batches in write order, so a batch is durable only when
// every batch before it is, and a request is never acknowledged before the
// sync that covers it returned.
type writer struct {
	sh     *shared
	l      *wal.Log
	self   *actor.PID // the partition actor, for *writeDone
	parent *actor.PID // the topic, for *partitionAppended
	index  int
	what   string // "ns/topic partition i", for errors

	eventsIn, bytesIn prometheus.Counter
	endOffset         prometheus.Gauge

	mu         sync.Mutex
	cond       sync.Cond // broadcast when the queue grows, a write or sync ends, or stop is set
	queue      []*appendReq
	queueBytes int  // body bytes in queue
	syncing    bool // the syncer is in a Commit
	// written holds batches written and waiting for the syncer, synced
	// those it committed (or failed) and the writer has yet to answer.
	written, synced []*flight
	inflight        int // requests taken from the queue and not yet answered
	outstanding     int // batches written and not yet answered
	// queued counts requests ever queued and handled those written or
	// refused, so flush can wait for what was queued before it while the
	// topic keeps queuing more (see partQueue).
	queued, handled uint64
	stop            bool  // exit once the queue is empty and every batch answered
	exiting         bool  // the writer returned; the syncer follows
	err             error // the write or sync error that poisoned the log; nothing more is written
	done, syncDone  chan struct{}
}

// flight is one written batch on its way through the syncer.
type flight struct {
	batch         []*appendReq
	first         int64
	events, bytes int
	p             wal.Pending
	start         time.Time // when its write began
	err           error     // its Commit's, set by the syncer
}

func startWriter(p *partition, self, parent *actor.PID) *writer {
	w := &writer{sh: p.sh, l: p.wal, self: self, parent: parent, index: p.index,
		what:     fmt.Sprintf("%s/%s partition %d", p.ns, p.topic, p.index),
		eventsIn: p.eventsIn, bytesIn: p.bytesIn, endOffset: p.endOffset,
		done: make(chan struct{}), syncDone: make(chan struct{})}
	w.cond.L = &w.mu
	go w.syncer()
	go w.run()
	return w
}

// enqueue queues m unless the partition holds limit requests already or the
// log is poisoned; it never blocks on the disk.
func (w *writer) enqueue(m *appendReq, limit int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if n := len(w.queue) + w.inflight; n >= limit {
		return fmt.Errorf("%w: %s has %d appends in flight", config.ErrBusy, w.what, n)
	}
	w.queue = append(w.queue, m)
	w.queued++
	before := w.queueBytes
	w.queueBytes += m.bytes
	if len(w.queue) == 1 || (before < writeAheadBytes && w.queueBytes >= writeAheadBytes) {
		w.cond.Broadcast()
	}
	return nil
}

// flush waits until everything queued before the call is written (or
// refused). The topic may go on queuing meanwhile (partQueue); those later
// requests are not waited for, so a busy partition cannot hold flush up.
func (w *writer) flush() {
	w.mu.Lock()
	target := w.queued
	for w.handled < target && w.err == nil {
		w.cond.Wait()
	}
	w.mu.Unlock()
}

// shutdown stops the goroutine and waits for it. With failErr nil it first
// writes everything queued; otherwise what is queued is refused with
// failErr (the write in flight, if any, still finishes and is answered).
func (w *writer) shutdown(failErr error) {
	w.mu.Lock()
	if failErr != nil {
		w.failLocked(failErr)
	}
	w.stop = true
	w.cond.Broadcast()
	w.mu.Unlock()
	<-w.done
}

func (w *writer) failLocked(err error) {
	for i, r := range w.queue {
		r.Reply.fail(w.sh.system, err)
		w.queue[i] = nil
	}
	w.handled += uint64(len(w.queue))
	w.queue = w.queue[:0]
	w.queueBytes = 0
}

// syncer commits written batches: each round takes every batch written so
// far and commits them with one sync.
func (w *writer) syncer() {
	defer close(w.syncDone)
	var ps []wal.Pending
	for {
		w.mu.Lock()
		for len(w.written) == 0 && !w.exiting {
			w.cond.Wait()
		}
		if len(w.written) == 0 {
			w.mu.Unlock()
			return
		}
		round := w.written
		w.written = nil
		w.syncing = true
		w.mu.Unlock()

		ps = ps[:0]
		events := 0
		for _, f := range round {
			ps = append(ps, f.p)
			events += f.events
		}
		err := w.l.Commit(ps...)
		clear(ps)
		if err == nil {
			w.sh.m.appendTime.Observe(time.Since(round[0].start).Seconds())
			w.sh.m.batchSize.Observe(float64(events))
		}
		w.mu.Lock()
		for _, f := range round {
			f.err = err
		}
		w.synced = append(w.synced, round...)
		w.syncing = false
		w.cond.Broadcast()
		w.mu.Unlock()
	}
}

func (w *writer) run() {
	defer close(w.done)
	defer func() { <-w.syncDone }()
	var (
		reqs [][]wal.Record
		done []*flight
	)
	for {
		w.mu.Lock()
		for len(w.synced) == 0 && !w.writeNowLocked() && !w.finishedLocked() {
			w.cond.Wait()
		}
		if w.finishedLocked() {
			w.exiting = true
			w.cond.Broadcast() // the syncer exits too
			w.mu.Unlock()
			return
		}
		done = append(done[:0], w.synced...)
		clear(w.synced)
		w.synced = w.synced[:0]
		var cur *flight
		if w.writeNowLocked() {
			cur = w.takeLocked()
		}
		w.mu.Unlock()

		// Answer what the last sync covered first: those producers can
		// start their next request while this batch is written.
		for i, f := range done {
			if err := w.answer(f); err != nil && w.poisonedFirst() {
				w.failed(nil, err)
			}
			done[i] = nil
		}
		if cur == nil {
			continue
		}
		reqs = reqs[:0]
		for _, r := range cur.batch {
			reqs = append(reqs, r.Records)
		}
		cur.start = time.Now()
		first, p, err := w.l.Write(reqs...)
		clear(reqs) // the bodies belong to the requests, not to the writer
		if err != nil {
			w.mu.Lock()
			w.outstanding--
			w.mu.Unlock()
			w.failed(cur.batch, err)
			continue // batches already written are answered by their syncs
		}
		cur.first, cur.p = first, p
		w.mu.Lock()
		w.written = append(w.written, cur)
		w.cond.Broadcast()
		w.mu.Unlock()
	}
}

// writeNowLocked reports whether the queue should be written now: while a
// sync is under way (or written batches wait for the next one) small
// requests are left to gather until writeAheadBytes, because a stream of
// small writes into a file being synced costs the sync more than it saves;
// once the syncer is idle, whatever is queued is written at once.
func (w *writer) writeNowLocked() bool {
	if len(w.queue) == 0 || w.err != nil {
		return false
	}
	idle := !w.syncing && len(w.written) == 0
	return idle || w.stop || w.queueBytes >= writeAheadBytes
}

// finishedLocked reports whether the writer may exit: every batch answered,
// and stopped with nothing queued or poisoned (the queue was refused).
func (w *writer) finishedLocked() bool {
	return len(w.synced) == 0 && w.outstanding == 0 && (w.err != nil || (w.stop && len(w.queue) == 0))
}

// poisonedFirst reports whether no write error was recorded yet (the first
// failure is the one that tells the actor).
func (w *writer) poisonedFirst() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err == nil
}

// takeLocked takes the head of the queue up to the caps as a flight, or
// returns nil if the queue is empty or the log poisoned. A request is never
// split (it is one atomic write by contract).
func (w *writer) takeLocked() *flight {
	if len(w.queue) == 0 || w.err != nil {
		return nil
	}
	n, events, bytes := 0, 0, 0
	for n < len(w.queue) {
		r := w.queue[n]
		if n > 0 && (events+len(r.Records) > batchMaxEvents || bytes+r.bytes > batchMaxBytes) {
			break
		}
		events += len(r.Records)
		bytes += r.bytes
		n++
	}
	f := &flight{batch: slices.Clone(w.queue[:n]), events: events, bytes: bytes}
	w.queueBytes -= bytes
	rest := copy(w.queue, w.queue[n:])
	clear(w.queue[rest:])
	w.queue = w.queue[:rest]
	w.inflight += n
	w.outstanding++
	return f
}

// answer acknowledges every request of a committed flight, or refuses them
// all with its Commit error, which it returns.
func (w *writer) answer(f *flight) error {
	if err := f.err; err != nil {
		werr := fmt.Errorf("%w: append to %s: %v", config.ErrStorage, w.what, err)
		for _, r := range f.batch {
			r.Reply.fail(w.sh.system, werr)
		}
		w.answered(f)
		return err
	}
	w.eventsIn.Add(float64(f.events))
	w.bytesIn.Add(float64(f.bytes))
	// Acks go out only after Commit returned without error: an
	// acknowledged event is on disk.
	var counted int64
	off := f.first
	for _, r := range f.batch {
		cnt := len(r.Records)
		if r.Counted {
			counted += int64(r.bytes)
		}
		r.Reply.ok(w.sh.system, config.ProduceResult{
			Partition: w.index, FirstOffset: off, Count: cnt, Timestamp: r.Records[0].Timestamp,
		})
		off += int64(cnt)
	}
	w.endOffset.Set(float64(off))
	if counted > 0 {
		w.sh.system.Root.Send(w.parent, &partitionAppended{Partition: w.index, CountedBytes: counted})
	}
	w.answered(f)
	w.sh.system.Root.Send(w.self, &writeDone{w: w, next: off})
	return nil
}

// answered counts f's requests as handled (for flush and the in-flight cap).
func (w *writer) answered(f *flight) {
	w.mu.Lock()
	w.inflight -= len(f.batch)
	w.handled += uint64(len(f.batch))
	w.outstanding--
	w.cond.Broadcast()
	w.mu.Unlock()
}

// failed handles a write or sync error: the log is poisoned (tidwall/wal's
// in-memory state may no longer match the disk), so batch (nil when the
// error came from a sync, whose batches answer has refused) and everything
// queued are refused, later enqueues are refused, and the actor is told;
// it closes the log and fails, so the supervisor rebuilds it and Started
// reopens (repairs) the log. Batches already written behind the failure
// are refused by their own syncs, which fail on the poisoned log.
func (w *writer) failed(batch []*appendReq, err error) {
	werr := fmt.Errorf("%w: append to %s: %v", config.ErrStorage, w.what, err)
	for _, r := range batch {
		r.Reply.fail(w.sh.system, werr)
	}
	w.mu.Lock()
	w.err = werr
	w.failLocked(werr)
	w.handled += uint64(len(batch))
	w.inflight -= len(batch)
	w.cond.Broadcast()
	w.mu.Unlock()
	w.sh.system.Root.Send(w.self, &writeDone{w: w, err: werr, cause: err})
}

// partQueue is how a topic hands appends to one of its partitions without a
// hop through the partition's mailbox: while the partition's log is open
// its writer is attached here and the topic queues on it directly. It
// lives as long as the topic incarnation, across partition restarts.
//
// While no writer is attached (the log is closed: never opened, failed to
// open, or the partition is restarting) the topic sends the request to the
// partition's mailbox as before, and the partition (re)opens the log or
// refuses it. viaMailbox counts such requests not yet handled: while any
// is pending the topic keeps using the mailbox, so requests reach the
// writer in the order the topic stamped them (timestamps only grow within
// a partition). The partition moves each one to the writer under mu.
type partQueue struct {
	mu         sync.Mutex
	w          *writer
	viaMailbox int
	closed     error // the partition stopped for good: refuse
	limit      int   // in-flight cap per partition (ErrBusy beyond)
}

// push queues a on the attached writer and reports true, or reports
// false when a must go through the partition's mailbox (the caller sends
// it). Only the topic actor calls it, so calls are serial.
func (q *partQueue) push(sys *actor.ActorSystem, a *appendReq) bool {
	q.mu.Lock()
	if q.closed != nil {
		err := q.closed
		q.mu.Unlock()
		a.Reply.fail(sys, err)
		return true
	}
	if q.w == nil || q.viaMailbox > 0 {
		q.viaMailbox++
		q.mu.Unlock()
		return false
	}
	err := q.w.enqueue(a, q.limit)
	q.mu.Unlock()
	if err != nil {
		a.Reply.fail(sys, err)
	}
	return true
}

// fromMailbox moves a request that came through the mailbox to w (nil:
// refuse it with openErr). Under mu, so that no later request overtakes it.
func (q *partQueue) fromMailbox(sys *actor.ActorSystem, a *appendReq, w *writer, openErr error) {
	q.mu.Lock()
	q.viaMailbox--
	err := openErr
	if w != nil {
		err = w.enqueue(a, q.limit)
	}
	q.mu.Unlock()
	if err != nil {
		a.Reply.fail(sys, err)
	}
}

// attach publishes the writer of a newly opened log; detach withdraws it
// before the writer shuts down, so nothing is queued on a stopped writer.
// stopped (non-nil) makes later pushes fail with it.
func (q *partQueue) attach(w *writer) {
	q.mu.Lock()
	q.w = w
	q.mu.Unlock()
}

func (q *partQueue) detach(stopped error) {
	q.mu.Lock()
	q.w = nil
	if stopped != nil {
		q.closed = stopped
	}
	q.mu.Unlock()
}
