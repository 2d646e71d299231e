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
	// writeAheadBytes is how much a partition lets queue up before writing
	// it while a sync is under way (see writer.writeNowLocked).
	writeAheadBytes = 64 << 10
	// fetchMaxEvents/fetchMaxBytes bound one read by the partition actor so
	// a big read never holds the mailbox for long.
	fetchMaxEvents = 1000
	fetchMaxBytes  = 1 << 20
	// reopenBackoff spaces attempts to reopen a log that failed to open, so
	// a broken disk does not turn every request into an open attempt.
	reopenBackoff = 100 * time.Millisecond
)

// partition owns one wal.Log: it and its writer are the only code that
// touches it. The topic queues appends on the writer directly (partQueue),
// without a hop through this actor's mailbox; only while no writer is
// attached do they come here (see writer: one long-lived goroutine per open
// log writes group-committed batches and acknowledges them itself); reads
// are bounded and served here, beside a write in flight (wal.Log
// serialises them with its own mutex). A write error poisons the log: the
// writer refuses everything waiting and reports it, and the actor panics;
// the supervisor restarts it and Started reopens the log, which repairs the
// tail. Truncate and drain first wait for the writer to write what was
// queued before them (flush); stop writes everything.
type partition struct {
	sh      *shared
	ns      string
	topic   string
	topicID string
	index   int
	dir     string
	log     zerolog.Logger

	self, parent *actor.PID
	wal          *wal.Log
	w            *writer    // runs while wal is open
	q            *partQueue // the topic's direct way to w
	lastOpen     time.Time
	watchers     map[string]watcher
	eventsIn     prometheus.Counter
	bytesIn      prometheus.Counter
	eventsOut    prometheus.Counter
	bytesOut     prometheus.Counter
	endOffset    prometheus.Gauge
}

type watcher struct {
	pid  *actor.PID
	from int64
}

func newPartitionProps(sh *shared, ns, topic, topicID string, index int, dir string, q *partQueue) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor {
		p := &partition{sh: sh, ns: ns, topic: topic, topicID: topicID, index: index, dir: dir,
			q: q, watchers: map[string]watcher{}}
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
		p.self, p.parent = ctx.Self(), ctx.Parent()
		p.open()
		var last int64
		if p.wal != nil {
			last = p.wal.LastTimestamp()
		}
		ctx.Send(ctx.Parent(), &partitionReady{Partition: p.index, LastTimestamp: last})
	case *actor.Stopping:
		// Stop is a system message: appends still queued in memory are
		// written here so that nothing accepted is dropped silently. The
		// topic's later pushes are refused (as a dead letter would be).
		p.q.detach(mapActorErr(actor.ErrDeadLetter, "produce"))
		p.close(nil)
	case *actor.Restarting:
		// Whatever is waiting is answered (failed) rather than left to
		// time out.
		p.close(fmt.Errorf("%w: partition %s/%s/%d is restarting", config.ErrStorage, p.ns, p.topic, p.index))
	case *appendReq:
		p.onAppend(m)
	case *writeDone:
		p.onWriteDone(ctx, m)
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
		if p.w != nil {
			p.w.flush()
		}
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
	p.w = startWriter(p, p.self, p.parent)
	p.q.attach(p.w)
}

// close stops the writer, then closes the log. With failErr nil the writer
// first writes everything queued; otherwise the queue is refused with it.
func (p *partition) close(failErr error) {
	if p.w != nil {
		p.q.detach(nil)
		p.w.shutdown(failErr)
		p.w = nil
	}
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

// onAppend handles an append that came through the mailbox because no
// writer was attached to the topic's partQueue when it was sent: it opens
// the log if it can and queues the append, or refuses it.
func (p *partition) onAppend(m *appendReq) {
	err := p.ready()
	p.q.fromMailbox(p.sh.system, m, p.w, err)
}

// onWriteDone serves what needs actor state after a write (watchers), or,
// after a write error, closes the poisoned log and fails so that the
// supervisor restarts the partition, whose Started reopens (repairs) it.
func (p *partition) onWriteDone(ctx actor.Context, m *writeDone) {
	if m.w != p.w {
		return // from the writer of a log closed since
	}
	if m.err != nil {
		p.log.Error().Err(m.cause).Msg("append failed; restarting partition to repair its log")
		p.close(m.err)
		panic(m.err)
	}
	p.notifyWatchers(ctx, m.next)
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
	if p.w != nil {
		p.w.flush()
	}
	if err := p.ready(); err != nil {
		ctx.Respond(&failure{err: err})
		return
	}
	if err := p.wal.TruncateAll(); err != nil {
		werr := fmt.Errorf("%w: truncate %s/%s partition %d: %v", config.ErrStorage, p.ns, p.topic, p.index, err)
		ctx.Respond(&failure{err: werr})
		p.close(werr)
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
		p.close(werr)
		panic(werr)
	}
	if removed > 0 {
		p.log.Info().Int64("removed", removed).Int64("first_offset", p.wal.FirstOffset()).Msg("retention removed events")
	}
	// Housekeeping rides on the same periodic pass: a partition not written
	// since the previous run gives back its tail buffer's reserved room.
	if n := p.wal.ReleaseIdle(); n > 0 {
		p.log.Debug().Int("bytes", n).Msg("released the idle tail's reserved memory")
	}
	ctx.Respond(&okResp{})
}
