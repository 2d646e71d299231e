package actors

import (
	"fmt"
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
// takes everything queued (up to the batch caps), appends it as one Append
// (one fsync), acknowledges each request itself and goes straight back to
// the queue. So the next batch starts the moment the previous fsync
// returns, with no hop through the actor's mailbox in between, and the
// actor never waits for the disk. After each write it tells the actor
// (*writeDone) so that watchers and the topic's notification counter are
// served from actor state.
//
// Group commit falls out of this: whatever arrives while a write runs forms
// the next batch. At most one write is in flight; the log's own mutex
// serialises it with the actor's reads.
type writer struct {
	sh     *shared
	l      *wal.Log
	self   *actor.PID // the partition actor, for *writeDone
	parent *actor.PID // the topic, for *partitionAppended
	index  int
	what   string // "ns/topic partition i", for errors

	eventsIn, bytesIn prometheus.Counter
	endOffset         prometheus.Gauge

	mu       sync.Mutex
	cond     sync.Cond // broadcast when the queue grows, a write ends, or stop is set
	queue    []*appendReq
	inflight int // requests in the write in flight
	// queued counts requests ever queued and handled those written or
	// refused, so flush can wait for what was queued before it while the
	// topic keeps queuing more (see partQueue).
	queued, handled uint64
	stop            bool  // exit once the queue is empty
	err             error // the write error that poisoned the log; nothing more is written
	done            chan struct{}
}

func startWriter(p *partition, self, parent *actor.PID) *writer {
	w := &writer{sh: p.sh, l: p.wal, self: self, parent: parent, index: p.index,
		what:     fmt.Sprintf("%s/%s partition %d", p.ns, p.topic, p.index),
		eventsIn: p.eventsIn, bytesIn: p.bytesIn, endOffset: p.endOffset,
		done: make(chan struct{})}
	w.cond.L = &w.mu
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
	if len(w.queue) == 1 {
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
}

func (w *writer) run() {
	defer close(w.done)
	var batch []*appendReq
	var reqs [][]wal.Record
	for {
		w.mu.Lock()
		for len(w.queue) == 0 && !w.stop {
			w.cond.Wait()
		}
		if len(w.queue) == 0 || w.err != nil {
			w.mu.Unlock()
			return
		}
		// Take the head of the queue up to the caps; a request is never
		// split (it is one atomic WriteBatch by contract).
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
		batch = append(batch[:0], w.queue[:n]...)
		rest := copy(w.queue, w.queue[n:])
		clear(w.queue[rest:])
		w.queue = w.queue[:rest]
		w.inflight = n
		w.mu.Unlock()

		reqs = reqs[:0]
		for _, r := range batch {
			reqs = append(reqs, r.Records)
		}
		start := time.Now()
		first, err := w.l.Append(reqs...)
		w.sh.m.appendTime.Observe(time.Since(start).Seconds())
		clear(reqs) // the bodies belong to the requests, not to the writer
		if err != nil {
			w.failed(batch, err)
			clear(batch)
			return
		}
		w.sh.m.batchSize.Observe(float64(events))
		w.eventsIn.Add(float64(events))
		w.bytesIn.Add(float64(bytes))
		// Acks go out only after Append returned without error: an
		// acknowledged event is on disk.
		var counted int64
		off := first
		for _, r := range batch {
			cnt := len(r.Records)
			if r.Counted {
				counted += int64(r.bytes)
			}
			r.Reply.ok(w.sh.system, config.ProduceResult{
				Partition: w.index, FirstOffset: off, Count: cnt, Timestamp: r.Records[0].Timestamp,
			})
			off += int64(cnt)
		}
		clear(batch)
		w.endOffset.Set(float64(off))
		if counted > 0 {
			w.sh.system.Root.Send(w.parent, &partitionAppended{Partition: w.index, CountedBytes: counted})
		}
		w.mu.Lock()
		w.inflight = 0
		w.handled += uint64(n)
		w.cond.Broadcast()
		w.mu.Unlock()
		w.sh.system.Root.Send(w.self, &writeDone{w: w, next: off})
	}
}

// failed handles a write error: the log is poisoned (tidwall/wal's
// in-memory state may no longer match the disk), so the batch and
// everything queued are refused, later enqueues are refused, and the actor
// is told; it closes the log and fails, so the supervisor rebuilds it and
// Started reopens (repairs) the log.
func (w *writer) failed(batch []*appendReq, err error) {
	werr := fmt.Errorf("%w: append to %s: %v", config.ErrStorage, w.what, err)
	for _, r := range batch {
		r.Reply.fail(w.sh.system, werr)
	}
	w.mu.Lock()
	w.err = werr
	w.failLocked(werr)
	w.handled += uint64(len(batch))
	w.inflight = 0
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
