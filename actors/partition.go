package actors

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/weirflow/weir/config"
	"github.com/weirflow/weir/wal"
)

// Group-commit caps: one write takes queued requests until it holds about
// this many events or bytes; a single request is never split (it is one
// atomic WriteBatch by contract), so one request may exceed them.
const (
	batchMaxEvents = 1000
	batchMaxBytes  = 1 << 20
	// fetchMaxEvents/fetchMaxBytes bound one read by the partition actor so
	// a big read never holds the mailbox for long.
	fetchMaxEvents = 1000
	fetchMaxBytes  = 1 << 20
	// reopenBackoff spaces attempts to reopen a log that failed to open, so
	// a broken disk does not turn every request into an open attempt.
	reopenBackoff = 100 * time.Millisecond
)

// partition owns one wal.Log: it is the only code that touches it. Appends
// are queued from the mailbox and written together (group commit); reads are
// bounded. A write error poisons the log, so the actor answers every waiter
// with an error and panics; the supervisor restarts it and Started reopens
// the log, which repairs the tail.
//
// The write itself (one Append = one fsync) runs in a goroutine the actor
// starts, one at a time, and reports back with *writeDone. Meanwhile the
// actor keeps taking appends from its mailbox into the queue, so the next
// batch is ready the moment the disk is free, and the acks of one batch go
// out while the next one is being written: the disk never waits for the
// actor. Anything that needs the log quiet (truncate, drain, stop) first
// waits for the write in flight (awaitWrite). Reads may run during a write:
// wal.Log serialises them with its own mutex.
type partition struct {
	sh      *shared
	ns      string
	topic   string
	topicID string
	index   int
	dir     string
	log     zerolog.Logger

	wal       *wal.Log
	lastOpen  time.Time
	queue     []*pendingAppend
	flushing  bool        // a flushTick is in the mailbox
	inflight  *writeBatch // the write running in its goroutine, nil if none
	writeSeq  uint64
	reqs      [][]wal.Record // reused argument of Append
	watchers  map[string]watcher
	eventsIn  prometheus.Counter
	bytesIn   prometheus.Counter
	eventsOut prometheus.Counter
	bytesOut  prometheus.Counter
	endOffset prometheus.Gauge
}

type pendingAppend struct {
	req   *appendReq
	bytes int
}

// writeBatch is one Append running in a goroutine: the requests it holds
// (answered when it is done) and where its result arrives.
type writeBatch struct {
	seq           uint64
	batch         []*pendingAppend
	events, bytes int
	res           chan writeResult // buffered: the goroutine never blocks
}

type writeResult struct {
	first   int64
	err     error
	elapsed time.Duration
}

type watcher struct {
	pid  *actor.PID
	from int64
}

func newPartitionProps(sh *shared, ns, topic, topicID string, index int, dir string) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor {
		p := &partition{sh: sh, ns: ns, topic: topic, topicID: topicID, index: index, dir: dir,
			watchers: map[string]watcher{}}
		p.log = sh.log.With().Str("namespace", ns).Str("topic", topic).Int("partition", index).Logger()
		part := strconv.Itoa(index)
		p.eventsIn = sh.m.eventsIn.WithLabelValues(ns, topic)
		p.bytesIn = sh.m.bytesIn.WithLabelValues(ns, topic)
		p.eventsOut = sh.m.eventsOut.WithLabelValues(ns, topic)
		p.bytesOut = sh.m.bytesOut.WithLabelValues(ns, topic)
		p.endOffset = sh.m.endOffset.WithLabelValues(ns, topic, part)
		return p
	})
}

func (p *partition) Receive(ctx actor.Context) {
	defer logPanic(p.log, ctx)
	switch m := ctx.Message().(type) {
	case *actor.Started:
		p.open()
		var last int64
		if p.wal != nil {
			last = p.wal.LastTimestamp()
		}
		ctx.Send(ctx.Parent(), &partitionReady{Partition: p.index, LastTimestamp: last})
	case *actor.Stopping:
		// Stop is a system message: appends still queued in memory are
		// written here so that nothing accepted is dropped silently.
		p.writeAll(ctx, false)
		p.close()
	case *actor.Restarting:
		// Whatever is waiting is answered (failed if the log cannot take
		// it) rather than left to time out.
		p.awaitWrite(ctx, false)
		p.failQueue(ctx, 0, fmt.Errorf("%w: partition %s/%s/%d is restarting", config.ErrStorage, p.ns, p.topic, p.index))
		p.close()
	case *appendReq:
		p.onAppend(ctx, m)
	case *flushTick:
		p.flushing = false
		if p.inflight == nil {
			p.startWrite(ctx)
		}
	case *writeDone:
		if p.inflight != nil && p.inflight.seq == m.seq {
			p.finishWrite(ctx, <-p.inflight.res, true)
			// Everything that arrived during the write is queued already
			// (it was ahead of writeDone in the mailbox): write it now.
			p.startWrite(ctx)
		}
	case *partitionFetch:
		p.onFetch(ctx, m)
	case *partitionRange:
		p.onRange(ctx, m)
	case *partitionInfoReq:
		ctx.Respond(&partitionInfoResp{Info: p.info()})
	case *partitionTruncate:
		p.onTruncate(ctx)
	case *partitionRetention:
		p.onRetention(ctx, m)
	case *partitionDrain:
		p.writeAll(ctx, false)
		if p.wal != nil {
			if err := p.wal.Sync(); err != nil {
				p.log.Error().Err(err).Msg("fsync on drain failed")
			}
		}
		ctx.Respond(&okResp{})
	case *partitionWatch:
		p.onWatch(ctx, m)
	}
}

// open opens (and thereby repairs) the log. A failure leaves p.wal nil; the
// next request retries after reopenBackoff, so the partition recovers by
// itself when the disk does.
func (p *partition) open() {
	p.lastOpen = time.Now()
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		p.log.Error().Err(err).Str("dir", p.dir).Msg("cannot create partition directory")
		return
	}
	opts := wal.DefaultOptions()
	opts.SegmentSize = int(p.sh.cfg.Storage.SegmentSize)
	opts.MaxBytes = int64(p.sh.cfg.Storage.MaxBytes)
	opts.Logger = p.log
	if p.sh.walOptions != nil {
		p.sh.walOptions(&opts)
	}
	l, err := wal.Open(p.dir, opts)
	if err != nil {
		p.log.Error().Err(err).Str("dir", p.dir).Msg("cannot open partition log")
		return
	}
	p.wal = l
	p.endOffset.Set(float64(l.NextOffset()))
}

func (p *partition) close() {
	if p.wal == nil {
		return
	}
	if err := p.wal.Close(); err != nil && !errors.Is(err, wal.ErrPoisoned) {
		p.log.Error().Err(err).Msg("closing partition log failed")
	}
	p.wal = nil
}

// ready reopens a closed log if the backoff allows, and reports whether the
// log is usable.
func (p *partition) ready() error {
	if p.wal != nil {
		return nil
	}
	if time.Since(p.lastOpen) >= reopenBackoff {
		p.open()
	}
	if p.wal == nil {
		return fmt.Errorf("%w: partition %s/%s/%d cannot be opened", config.ErrStorage, p.ns, p.topic, p.index)
	}
	return nil
}

func (p *partition) onAppend(ctx actor.Context, m *appendReq) {
	inflight := len(p.queue)
	if p.inflight != nil {
		inflight += len(p.inflight.batch)
	}
	if inflight >= p.sh.cfg.Storage.MaxInflightAppends {
		m.Reply.fail(p.sh.system, fmt.Errorf("%w: %s/%s partition %d has %d appends in flight",
			config.ErrBusy, p.ns, p.topic, p.index, inflight))
		return
	}
	if err := p.ready(); err != nil {
		m.Reply.fail(p.sh.system, err)
		return
	}
	size := 0
	for i := range m.Records {
		size += len(m.Records[i].Body)
	}
	p.queue = append(p.queue, &pendingAppend{req: m, bytes: size})
	// While a write is in flight its writeDone starts the next one. If
	// not, a tick behind the messages already in the mailbox lets them
	// join this batch.
	if p.inflight == nil && !p.flushing {
		p.flushing = true
		ctx.Send(ctx.Self(), &flushTick{})
	}
}

// writeAll writes everything queued, waiting for each write, and refuses
// what cannot be written (no log), so nothing is left hanging.
func (p *partition) writeAll(ctx actor.Context, panicOnError bool) {
	p.awaitWrite(ctx, panicOnError)
	for len(p.queue) > 0 && p.wal != nil {
		p.startWrite(ctx)
		p.awaitWrite(ctx, panicOnError)
	}
	p.failQueue(ctx, 0, fmt.Errorf("%w: partition %s/%s/%d is closed", config.ErrStorage, p.ns, p.topic, p.index))
}

// awaitWrite blocks until the write in flight (if any) is done and answers
// its requests. It waits for our own goroutine, never for another actor.
// The writeDone that follows finds no write in flight and is ignored.
func (p *partition) awaitWrite(ctx actor.Context, panicOnError bool) {
	if p.inflight != nil {
		p.finishWrite(ctx, <-p.inflight.res, panicOnError)
	}
}

// startWrite takes the head of the queue (up to the batch caps; a request
// is never split) and appends it as one Append (one fsync) in a goroutine,
// which reports with *writeDone. One write at a time.
func (p *partition) startWrite(ctx actor.Context) {
	if p.inflight != nil || len(p.queue) == 0 {
		return
	}
	if err := p.ready(); err != nil {
		p.failQueue(ctx, 0, err)
		return
	}
	n, events, bytes := 0, 0, 0
	for n < len(p.queue) {
		pa := p.queue[n]
		if n > 0 && (events+len(pa.req.Records) > batchMaxEvents || bytes+pa.bytes > batchMaxBytes) {
			break
		}
		events += len(pa.req.Records)
		bytes += pa.bytes
		n++
	}
	// The batch keeps its own slice: the queue goes on growing meanwhile.
	batch := make([]*pendingAppend, n)
	copy(batch, p.queue)
	clear(p.queue[:n])
	p.queue = p.queue[n:]
	// reqs is reused across writes: only the goroutine reads it, and the
	// next write starts after this one reported.
	p.reqs = p.reqs[:0]
	for _, pa := range batch {
		p.reqs = append(p.reqs, pa.req.Records)
	}
	p.writeSeq++
	w := &writeBatch{seq: p.writeSeq, batch: batch, events: events, bytes: bytes, res: make(chan writeResult, 1)}
	p.inflight = w
	l, reqs, self, root := p.wal, p.reqs, ctx.Self(), p.sh.system.Root
	go func() {
		start := time.Now()
		first, err := l.Append(reqs...)
		w.res <- writeResult{first: first, err: err, elapsed: time.Since(start)}
		root.Send(self, &writeDone{seq: w.seq})
	}()
}

// finishWrite answers the requests of the write that just ended. Acks go
// out only after Append returned without error: an acknowledged event is on
// disk.
func (p *partition) finishWrite(ctx actor.Context, r writeResult, panicOnError bool) {
	w := p.inflight
	p.inflight = nil
	clear(p.reqs) // the bodies belong to the batch, not to the partition
	batch := w.batch
	p.sh.m.appendTime.Observe(r.elapsed.Seconds())
	if r.err != nil {
		// The log is poisoned: tidwall/wal's in-memory state may no longer
		// match the disk. Refuse everything waiting, then fail so the
		// supervisor rebuilds the actor and Started reopens (repairs) it.
		werr := fmt.Errorf("%w: append to %s/%s partition %d: %v", config.ErrStorage, p.ns, p.topic, p.index, r.err)
		for _, pa := range batch {
			pa.req.Reply.fail(p.sh.system, werr)
		}
		p.failQueue(ctx, 0, werr)
		p.log.Error().Err(r.err).Msg("append failed; restarting partition to repair its log")
		p.close()
		if panicOnError {
			panic(werr)
		}
		return
	}
	events, bytes := w.events, w.bytes
	p.sh.m.batchSize.Observe(float64(events))
	p.eventsIn.Add(float64(events))
	p.bytesIn.Add(float64(bytes))
	var counted int64
	off := r.first
	for _, pa := range batch {
		cnt := len(pa.req.Records)
		if pa.req.Counted {
			counted += int64(pa.bytes)
		}
		pa.req.Reply.ok(p.sh.system, config.ProduceResult{
			Partition: p.index, FirstOffset: off, Count: cnt, Timestamp: pa.req.Records[0].Timestamp,
		})
		off += int64(cnt)
	}
	next := p.wal.NextOffset()
	p.endOffset.Set(float64(next))
	if counted > 0 {
		ctx.Send(ctx.Parent(), &partitionAppended{Partition: p.index, CountedBytes: counted})
	}
	p.notifyWatchers(ctx, next)
}

func (p *partition) failQueue(ctx actor.Context, from int, err error) {
	for i := from; i < len(p.queue); i++ {
		p.queue[i].req.Reply.fail(p.sh.system, err)
		p.queue[i] = nil
	}
	p.queue = p.queue[:from]
}

func (p *partition) notifyWatchers(ctx actor.Context, next int64) {
	for id, w := range p.watchers {
		if next > w.from {
			ctx.Send(w.pid, &appendNotice{TopicID: p.topicID, Partition: p.index, Next: next})
			delete(p.watchers, id)
		}
	}
}

func (p *partition) onWatch(ctx actor.Context, m *partitionWatch) {
	s := ctx.Sender()
	if s == nil {
		return
	}
	if p.wal != nil && p.wal.NextOffset() > m.From {
		ctx.Send(s, &appendNotice{TopicID: p.topicID, Partition: p.index, Next: p.wal.NextOffset()})
		return
	}
	p.watchers[s.Id] = watcher{pid: s, from: m.From}
}

func (p *partition) info() config.PartitionInfo {
	if p.wal == nil {
		return config.PartitionInfo{Partition: p.index}
	}
	return config.PartitionInfo{
		Partition:     p.index,
		FirstOffset:   p.wal.FirstOffset(),
		NextOffset:    p.wal.NextOffset(),
		SizeBytes:     p.wal.Size(),
		LastTimestamp: p.wal.LastTimestamp(),
	}
}

func (p *partition) onFetch(ctx actor.Context, m *partitionFetch) {
	if err := p.ready(); err != nil {
		ctx.Respond(&failure{err: err})
		return
	}
	maxEv, maxBytes := clampFetch(m.MaxEvents, m.MaxBytes)
	entries, err := p.wal.Fetch(m.From, maxEv, maxBytes)
	if err != nil {
		ctx.Respond(&failure{err: fmt.Errorf("%w: read %s/%s partition %d at %d: %v", config.ErrStorage, p.ns, p.topic, p.index, m.From, err)})
		return
	}
	events := p.toEvents(entries)
	ctx.Respond(&fetchResp{Result: config.FetchResult{
		Events: events, FirstOffset: p.wal.FirstOffset(), NextOffset: p.wal.NextOffset(),
	}})
}

func clampFetch(maxEvents, maxBytes int) (int, int) {
	if maxEvents <= 0 || maxEvents > fetchMaxEvents {
		maxEvents = fetchMaxEvents
	}
	if maxBytes <= 0 || maxBytes > fetchMaxBytes {
		maxBytes = fetchMaxBytes
	}
	return maxEvents, maxBytes
}

func (p *partition) toEvents(entries []wal.Entry) []config.Event {
	if len(entries) == 0 {
		return nil
	}
	out := make([]config.Event, len(entries))
	bytes := 0
	for i, e := range entries {
		out[i] = config.Event{Partition: p.index, Offset: e.Offset, Timestamp: e.Timestamp,
			Headers: e.Headers, Key: e.Key, Body: e.Body}
		bytes += len(e.Body)
	}
	p.eventsOut.Add(float64(len(out)))
	p.bytesOut.Add(float64(bytes))
	return out
}

func (p *partition) onRange(ctx actor.Context, m *partitionRange) {
	if err := p.ready(); err != nil {
		ctx.Respond(&failure{err: err})
		return
	}
	from := m.FromOffset
	if from < 0 {
		var err error
		if from, err = p.wal.OffsetForTime(m.FromTime); err != nil {
			ctx.Respond(&failure{err: fmt.Errorf("%w: time index of %s/%s partition %d: %v", config.ErrStorage, p.ns, p.topic, p.index, err)})
			return
		}
	}
	maxEv, maxBytes := clampFetch(m.MaxEvents, m.MaxBytes)
	entries, err := p.wal.Fetch(from, maxEv, maxBytes)
	if err != nil {
		ctx.Respond(&failure{err: fmt.Errorf("%w: read %s/%s partition %d at %d: %v", config.ErrStorage, p.ns, p.topic, p.index, from, err)})
		return
	}
	resp := &rangeResp{Next: from}
	// Timestamps only grow within a partition, so the first event at or
	// past To ends the range.
	cut := len(entries)
	for i, e := range entries {
		if e.Timestamp >= m.To {
			cut = i
			resp.Done = true
			break
		}
	}
	entries = entries[:cut]
	if len(entries) > 0 {
		resp.Next = entries[len(entries)-1].Offset + 1
	} else if from < p.wal.FirstOffset() {
		resp.Next = p.wal.FirstOffset()
	}
	if resp.Next >= p.wal.NextOffset() {
		resp.Done = true
	}
	resp.Events = p.toEvents(entries)
	ctx.Respond(resp)
}

func (p *partition) onTruncate(ctx actor.Context) {
	// Appends queued before the truncate are written first: a send racing
	// with a truncate is either removed with the old events or kept, never
	// failed.
	p.writeAll(ctx, true)
	if err := p.ready(); err != nil {
		ctx.Respond(&failure{err: err})
		return
	}
	if err := p.wal.TruncateAll(); err != nil {
		werr := fmt.Errorf("%w: truncate %s/%s partition %d: %v", config.ErrStorage, p.ns, p.topic, p.index, err)
		ctx.Respond(&failure{err: werr})
		p.close()
		panic(werr)
	}
	ctx.Respond(&okResp{})
}

func (p *partition) onRetention(ctx actor.Context, m *partitionRetention) {
	if err := p.ready(); err != nil {
		ctx.Respond(&failure{err: err})
		return
	}
	removed, err := p.wal.ApplyRetention(m.MinTimestamp)
	if err != nil {
		werr := fmt.Errorf("%w: retention on %s/%s partition %d: %v", config.ErrStorage, p.ns, p.topic, p.index, err)
		ctx.Respond(&failure{err: werr})
		p.close()
		panic(werr)
	}
	if removed > 0 {
		p.log.Info().Int64("removed", removed).Int64("first_offset", p.wal.FirstOffset()).Msg("retention removed events")
	}
	ctx.Respond(&okResp{})
}
