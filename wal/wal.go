// Package wal is one partition's durable log: an append-only sequence of
// checksummed records on top of github.com/tidwall/wal, with request-atomic
// appends (Append: one write and one sync; or Write now and Commit later, so
// that a writer can write the next batch while the previous one syncs),
// open-time tail repair, a sparse time index,
// truncate-all with monotonic offsets, retention, and a small offset store for
// consumer groups.
//
// It owns the files in one directory and nothing else: no actors, no HTTP, no
// knowledge of topics. A Log is meant to be owned by one partition actor but is
// safe for concurrent use (one mutex), because tidwall/wal panics on concurrent
// reads of old segments.
//
// What it must never do: acknowledge (return nil from Append or Commit)
// before the records are synced, let a reader see a record that is not yet
// synced (a crash could take it back and its offset be reused), reuse an
// offset, return a record whose checksum does not
// match, or keep writing through a tidwall instance after a write or sync
// error (its in-memory state is then wrong; the instance is poisoned and must
// be reopened, which repairs the tail).
package wal

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"
	tidwal "github.com/tidwall/wal"

	"github.com/weirflow/weir/config"
)

// Defaults used by DefaultOptions and for zero values in Options.
const (
	// DefaultSegmentSize is the target size of one segment file. Memory per
	// busy open log is about two segments (the tail, sized once in
	// tailbuf.go, and tidwall's one-segment cache); retention works in
	// whole segments.
	DefaultSegmentSize = 8 << 20
	// DefaultIndexInterval is the distance, in records, between two sparse
	// time-index entries (there is also one at every segment start).
	DefaultIndexInterval = 128
	// DefaultFetchMaxEvents bounds a Fetch called with maxEvents <= 0.
	DefaultFetchMaxEvents = 1000
	// DefaultFetchMaxBytes bounds a Fetch called with maxBytes <= 0.
	DefaultFetchMaxBytes = 1 << 20
)

const (
	dirPerms  = 0o750
	filePerms = 0o640
)

// Sentinel errors. The storage failures wrap config.ErrStorage and ErrClosed
// wraps config.ErrUnavailable, so callers outside wal can map them with
// errors.Is without knowing this package.
var (
	// ErrPoisoned is returned by the call whose write or sync failed and by
	// every later call on that Log: tidwall/wal's in-memory state can no longer
	// be trusted, so nothing more is written. Close the Log and Open it again;
	// the reopen repairs the tail. Records of the failed call were not
	// acknowledged but may survive the reopen.
	ErrPoisoned = fmt.Errorf("wal: log poisoned by a write or sync failure, reopen it: %w", config.ErrStorage)
	// ErrClosed is returned by calls on a closed Log or OffsetStore.
	ErrClosed = fmt.Errorf("wal: log closed: %w", config.ErrUnavailable)
	// ErrCorrupt is returned when stored bytes fail validation on read: a bad
	// checksum, version or framing. It is never returned for damage that Open
	// repaired (that went to a quarantine file).
	ErrCorrupt = fmt.Errorf("wal: corrupt record: %w", config.ErrStorage)
	// ErrOutOfRange is returned by Read for an offset outside
	// [FirstOffset, NextOffset).
	ErrOutOfRange = errors.New("wal: offset out of range")
)

// Options configures a Log. The zero value of each field means its default.
type Options struct {
	// SegmentSize is the target size of a segment file in bytes (default
	// DefaultSegmentSize). A segment is sealed once it reaches this size.
	SegmentSize int
	// NoSync skips the fsync of Append. For tests and benchmarks only: an
	// Append that returns nil is then NOT durable.
	NoSync bool
	// IndexInterval puts a time-index entry every N offsets (default
	// DefaultIndexInterval); every segment start gets one as well.
	IndexInterval int
	// MaxBytes, when > 0, makes ApplyRetention drop the oldest sealed
	// segments until the segments on disk fit in MaxBytes (the segment being
	// written is never dropped).
	MaxBytes int64
	// Logger receives repair reports and poisoning events.
	Logger zerolog.Logger
	// Faults, when set, injects storage failures (tests only; the only way
	// to exercise poisoning and its recovery without a broken disk).
	Faults *Faults
}

// DefaultOptions returns the production settings: 8 MiB segments, an fsync
// per Append, a time-index entry every 128 records, no size limit, and a
// disabled logger.
func DefaultOptions() Options {
	return Options{
		SegmentSize:   DefaultSegmentSize,
		IndexInterval: DefaultIndexInterval,
		Logger:        zerolog.Nop(),
	}
}

// withDefaults returns a copy of o with zero values replaced by defaults.
func (o Options) withDefaults() Options {
	if o.SegmentSize <= 0 {
		o.SegmentSize = DefaultSegmentSize
	}
	if o.IndexInterval <= 0 {
		o.IndexInterval = DefaultIndexInterval
	}
	return o
}

// Record is what an appender supplies: one event.
type Record struct {
	// Timestamp is the append time in microseconds since the epoch, stamped
	// by the caller. Timestamps must not decrease along the log:
	// OffsetForTime and retention rely on it.
	Timestamp int64
	Headers   map[string]string
	Key       []byte
	Body      []byte
}

// Entry is what a reader gets: a record and its offset.
type Entry struct {
	// Offset is 0-based: tidwall's index - 1.
	Offset int64
	Record
}

// segment is what the Log knows about one segment file. Records of segment i
// are the tidwall indexes [segs[i].start, segs[i+1].start).
type segment struct {
	start  uint64 // tidwall index of its first record (its file name)
	size   int64  // bytes on disk (tidwall's framing included)
	lastTS int64  // newest record's timestamp, valid if hasTS
	hasTS  bool
}

// Log is one partition's log. See the package doc for its guarantees.
type Log struct {
	mu       sync.Mutex
	dir      string
	opts     Options
	log      zerolog.Logger
	tw       *tidwal.Log
	closed   bool
	poisoned error // first write/sync failure, nil while healthy

	first, next uint64 // tidwall indexes: first retained, next to write
	// durable is the tidwall index after the last committed record:
	// readers see [first, durable) only, so nobody reads (and hands to a
	// consumer) a record that a crash could still take back and whose
	// offset would then be reused.
	durable atomic.Uint64 // advanced by Commit without mu (see Commit)
	lastTS  int64
	segs    []segment // oldest first; the last one is being written
	index   timeIndex

	batch    tidwal.Batch
	scratch  []byte
	idleMark uint64       // l.next at the last ReleaseIdle
	sealed   sealedReader // sequential reads of sealed segments

	// cmu guards what Commit touches, so that a Commit never waits for a
	// Write (which holds mu for its whole write): the tail descriptors
	// and the sync failure. Lock order: mu, then cmu.
	cmu        sync.Mutex
	tail       *tailFile   // our descriptor of the segment being written
	retired    []*tailFile // earlier tails still referenced by uncommitted writes
	tailClosed bool        // Close closed the descriptors
	syncErr    error       // the first failed Commit sync
	syncFailed atomic.Bool // syncErr != nil, for usable without cmu
}

// Open opens (creating if needed) the log in dir. Before tidwall/wal sees the
// files, Open repairs the tail: it cuts back to the last valid record that
// ends a complete request, moves the cut bytes to a quarantine-*.bin file in
// dir and logs it. It then loads, verifies and if needed rebuilds the time
// index.
func Open(dir string, opts Options) (*Log, error) {
	opts = opts.withDefaults()
	if err := os.MkdirAll(dir, dirPerms); err != nil {
		return nil, fmt.Errorf("wal: create %s: %w: %w", dir, config.ErrStorage, err)
	}
	if _, err := repairTail(dir, checkLogEntry, opts.Logger); err != nil {
		return nil, fmt.Errorf("wal: repair %s: %w: %w", dir, config.ErrStorage, err)
	}
	tw, err := tidwal.Open(dir, &tidwal.Options{
		// Commit syncs the tail segment itself, through its own file
		// descriptor and outside tidwall's lock, so that the next batch can
		// be written while this one is being synced (see Write). tidwall
		// still fsyncs every segment it seals (cycle), whatever NoSync says.
		NoSync:      true,
		SegmentSize: opts.SegmentSize,
		LogFormat:   tidwal.Binary,
		// tidwall's cache holds whole sealed segments in memory (the one
		// just sealed, or one loaded for a read). Sequential reads of sealed
		// segments come from the files (sealed.go), so the cache only serves
		// single reads and the rare fallback; one segment is enough, and
		// each cached segment is a segment's worth of memory per partition
		// (measured: 12 busy partitions, RSS 702 MB with 2, 476 MB with 1).
		SegmentCacheSize: 1,
		NoCopy:           true, // reads copy what they keep (Fetch, decodeRecord)
		AllowEmpty:       true, // TruncateAll keeps the next index
		DirPerms:         dirPerms,
		FilePerms:        filePerms,
	})
	if err != nil {
		return nil, fmt.Errorf("wal: open %s: %w", dir, storageErr(err))
	}
	l := &Log{dir: dir, opts: opts, log: opts.Logger, tw: tw}
	if err := l.load(); err != nil {
		_ = tw.Close()
		_ = l.index.close()
		_ = l.closeTails()
		return nil, fmt.Errorf("wal: open %s: %w", dir, err)
	}
	return l, nil
}

// load reads tidwall's bounds, the segment list and the time index.
func (l *Log) load() error {
	first, err := l.tw.FirstIndex()
	if err != nil {
		return storageErr(err)
	}
	last, err := l.tw.LastIndex()
	if err != nil {
		return storageErr(err)
	}
	l.first, l.next = first, last+1
	l.durable.Store(l.next) // synced by openTail below before anyone reads
	// tidwall may just have created the first segment file or finished a
	// crashed truncation by renaming a START file; neither is durable until
	// the directory itself is synced.
	if err := syncDir(l.dir); err != nil {
		return err
	}
	if l.segs, err = listSegments(l.dir); err != nil {
		return err
	}
	if len(l.segs) == 0 || l.segs[0].start != l.first {
		return fmt.Errorf("%w: segment files do not match the log's first index %d", ErrCorrupt, l.first)
	}
	if err := l.openTail(); err != nil {
		return err
	}
	if l.next > l.first {
		m, err := l.readMeta(l.next - 1)
		if err != nil {
			return err
		}
		l.lastTS = m.Timestamp
	}
	return l.loadIndex()
}

// Append writes the records of every request with ONE tidwall WriteBatch
// and makes them durable with one sync before it returns (Write, then
// Commit), and returns the offset of the first record of the first request;
// the others follow consecutively, in order. Each request is atomic across
// crashes: after a crash either all of its records are in the log or none
// are. Empty requests are skipped; with no records at all Append writes
// nothing and returns NextOffset.
//
// A failed write or sync poisons the Log: the error satisfies
// errors.Is(err, ErrPoisoned), nothing of this call is acknowledged, and
// every later call returns ErrPoisoned until the Log is reopened.
func (l *Log) Append(reqs ...[]Record) (first int64, err error) {
	first, p, err := l.Write(reqs...)
	if err != nil {
		return 0, err
	}
	if err := l.Commit(p); err != nil {
		return 0, err
	}
	return first, nil
}

// Write is the first half of Append: it writes the records of every request
// with ONE tidwall WriteBatch into the segment files, without syncing, and
// returns the offset of the first record and the Pending write to Commit.
// The records are not durable, and not visible to readers, until Commit
// returns nil. Write may be called again before the previous Pending is
// committed (that is the point: one batch is written while the previous one
// is being synced); Commit the Pendings in the order Write returned them.
// Failures poison the Log as in Append.
func (l *Log) Write(reqs ...[]Record) (first int64, p Pending, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return 0, Pending{}, err
	}
	l.batch.Clear()
	idx := l.next
	segCount := len(l.segs)
	// What this batch adds to the segment tidwall is writing now (not to
	// segments it rolls to), so that its buffer can be sized once (tailbuf.go).
	tailSize := l.segs[segCount-1].size
	// New index entries go straight into memory and are taken back if the
	// write fails.
	indexMark := len(l.index.entries)
	var lastTS int64
	for _, req := range reqs {
		seq := idx - 1 // the request sequence is the offset of its first record
		for i := range req {
			if idx == l.next {
				l.beforeFirstWrite()
			}
			l.scratch = appendRecord(l.scratch[:0], &req[i], seq, i == len(req)-1)
			l.batch.Write(idx, l.scratch)
			tail := &l.segs[len(l.segs)-1]
			if (idx-1)%uint64(l.opts.IndexInterval) == 0 || idx == tail.start {
				l.index.entries = append(l.index.entries, indexEntry{off: int64(idx - 1), ts: req[i].Timestamp})
			}
			lastTS = req[i].Timestamp
			l.afterWrite(idx, len(l.scratch), lastTS)
			idx++
		}
	}
	if idx == l.next {
		return int64(l.next - 1), Pending{}, nil
	}
	l.reserveTail(tailSize, int(l.segs[segCount-1].size-tailSize))
	err = l.tw.WriteBatch(&l.batch)
	if err == nil {
		err = l.opts.Faults.after(false)
	}
	if err != nil {
		l.index.entries = l.index.entries[:indexMark]
		return 0, Pending{}, l.poison("append", err)
	}
	if len(l.segs) != segCount {
		// tidwall created segment files during the batch (and fsynced each
		// segment it sealed). Their directory entries are not durable until
		// the directory is synced, so sync it now; the new tail gets our
		// own descriptor for Commit.
		if err := l.confirmRoll(); err != nil {
			return 0, Pending{}, l.poison("append: sync directory after segment roll", err)
		}
		if err := l.openTail(); err != nil {
			return 0, Pending{}, l.poison("append: open new tail segment", err)
		}
		// Sealed segments' index entries go to the file now (once per
		// segment, not per Append); a failure only costs a rebuild at Open.
		if err := l.index.persistBefore(int64(l.segs[len(l.segs)-1].start - 1)); err != nil {
			l.log.Warn().Err(err).Str("dir", l.dir).Msg("wal: time index not written; it is rebuilt at the next open")
		}
	}
	first = int64(l.next - 1)
	l.next = idx
	l.lastTS = lastTS
	l.cmu.Lock()
	t := l.tail
	t.users++
	l.cmu.Unlock()
	return first, Pending{tail: t, next: idx}, nil
}

// beforeFirstWrite mirrors tidwall's check at the start of a non-empty
// batch: a tail segment already larger than the segment size (possible after
// reopening with a smaller SegmentSize) is sealed first.
func (l *Log) beforeFirstWrite() {
	if l.segs[len(l.segs)-1].size > int64(l.opts.SegmentSize) {
		l.segs = append(l.segs, segment{start: l.next})
	}
}

// afterWrite mirrors tidwall's segment accounting for one entry of n bytes at
// index idx: the tail grows by tidwall's framing (uvarint length + data) and
// is sealed once it reaches SegmentSize, which is when tidwall cycles to a
// new file. Mirroring it is how we know when to sync the directory and where
// segments start without asking tidwall, which does not tell.
func (l *Log) afterWrite(idx uint64, n int, ts int64) {
	tail := &l.segs[len(l.segs)-1]
	tail.size += int64(uvarintLen(uint64(n)) + n)
	tail.lastTS, tail.hasTS = ts, true
	if tail.size >= int64(l.opts.SegmentSize) {
		l.segs = append(l.segs, segment{start: idx + 1})
	}
}

// confirmRoll checks that the segment file the mirror predicted exists,
// resynchronises the list from the directory if not (logging it: that would
// mean tidwall's behaviour differs from the one we mirror), then syncs the
// directory.
func (l *Log) confirmRoll() error {
	tail := l.segs[len(l.segs)-1]
	if _, err := os.Stat(filepath.Join(l.dir, segmentName(tail.start))); err != nil {
		segs, lerr := listSegments(l.dir)
		if lerr != nil {
			return lerr
		}
		l.log.Warn().Str("dir", l.dir).Uint64("predicted_start", tail.start).Int("segments", len(segs)).
			Msg("wal: segment roll did not match prediction; reloaded segment list")
		l.segs = segs
	}
	return syncDir(l.dir)
}

// Fetch returns consecutive entries starting at offset from: at most
// maxEvents of them and at most maxBytes of encoded records, but always at
// least one if any exists at or after from, however large. maxEvents <= 0
// means DefaultFetchMaxEvents and maxBytes <= 0 means DefaultFetchMaxBytes.
// from < FirstOffset reads from FirstOffset; from >= NextOffset returns
// nil, nil. If a record fails validation, Fetch returns the entries before it,
// or ErrCorrupt when it is the first one.
//
// The keys and bodies of one Fetch share one allocation (they never alias
// tidwall's segment cache): a caller that keeps any of them keeps that
// buffer alive, so copy a few out of a large fetch to hold them long.
func (l *Log) Fetch(from int64, maxEvents, maxBytes int) ([]Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return nil, err
	}
	if maxEvents <= 0 {
		maxEvents = DefaultFetchMaxEvents
	}
	if maxBytes <= 0 {
		maxBytes = DefaultFetchMaxBytes
	}
	idx := l.first
	if from >= int64(l.first) { // from+1 > first, without overflowing
		idx = uint64(from) + 1
	}
	durable := l.durable.Load()
	if idx >= durable {
		return nil, nil
	}
	out := make([]Entry, 0, min(uint64(maxEvents), durable-idx, 1024))
	size, kb := 0, 0
	// First pass: validate and decode with keys and bodies aliasing what
	// was read. Runs of entries in sealed segments whose file position is
	// known (a segment start, or where an earlier fetch stopped) come
	// straight from the file through the sealed reader, into an arena that
	// no later read of this fetch overwrites; the rest comes from tidwall,
	// which does not change loaded segment memory (the tail only grows,
	// and we hold the lock), so its views stay valid even if reading on
	// evicts their segment from the cache.
	arena := l.sealed.buf[:0]
	defer func() { l.sealed.buf = arena[:0] }()
	for idx < durable && len(out) < maxEvents {
		if seg := l.sealedSegment(idx); seg >= 0 {
			budget := maxBytes - size
			views, grown, ok := l.sealed.entries(l, seg, idx, min(maxEvents-len(out), int(min(durable-idx, uint64(maxEvents)))), budget, len(out) == 0, arena)
			if ok {
				arena = grown
				if len(views) == 0 {
					break // the next entry does not fit the byte budget
				}
				bad := false
				for _, data := range views {
					rec, _, err := decodeRecordView(data)
					if err != nil {
						// Not what tidwall would give back: go on through
						// tidwall from here, which reports real damage.
						l.sealed.forget()
						bad = true
						break
					}
					out = append(out, Entry{Offset: int64(idx - 1), Record: rec})
					size += len(data)
					kb += len(rec.Key) + len(rec.Body)
					idx++
				}
				if !bad {
					continue
				}
			}
		}
		data, err := l.tw.Read(idx)
		if err == nil && len(out) > 0 && size+len(data) > maxBytes {
			break
		}
		var rec Record
		if err == nil {
			rec, _, err = decodeRecordView(data)
		}
		if err != nil {
			if len(out) > 0 {
				break // the next Fetch starts here and reports it
			}
			return nil, fmt.Errorf("wal: read offset %d: %w", idx-1, storageErr(err))
		}
		out = append(out, Entry{Offset: int64(idx - 1), Record: rec})
		size += len(data)
		kb += len(rec.Key) + len(rec.Body)
		idx++
	}
	return copyOut(out, kb), nil
}

// copyOut is Fetch's second pass: it copies every key and body (kb bytes
// in all) into one exact buffer, so that nothing returned aliases tidwall's
// segment cache or the sealed reader's buffer.
func copyOut(out []Entry, kb int) []Entry {
	buf := make([]byte, 0, kb)
	for i := range out {
		r := &out[i].Record
		start, keyLen := len(buf), len(r.Key)
		buf = append(buf, r.Key...)
		buf = append(buf, r.Body...)
		r.Key, r.Body = splitKeyBody(buf[start:len(buf):len(buf)], keyLen)
	}
	return out
}

// Read returns the entry at offset, or ErrOutOfRange if offset is outside
// [FirstOffset, NextOffset).
func (l *Log) Read(offset int64) (Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return Entry{}, err
	}
	if durable := l.durable.Load(); offset < int64(l.first)-1 || offset >= int64(durable)-1 {
		return Entry{}, fmt.Errorf("%w: %d not in [%d, %d)", ErrOutOfRange, offset, l.first-1, durable-1)
	}
	data, err := l.tw.Read(uint64(offset) + 1)
	if err != nil {
		return Entry{}, fmt.Errorf("wal: read offset %d: %w", offset, storageErr(err))
	}
	rec, _, err := decodeRecord(data)
	if err != nil {
		return Entry{}, fmt.Errorf("wal: read offset %d: %w", offset, err)
	}
	return Entry{Offset: offset, Record: rec}, nil
}

// FirstOffset is the oldest retained offset; it equals NextOffset when the
// log is empty.
func (l *Log) FirstOffset() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int64(l.first - 1)
}

// NextOffset is the offset after the last durable record: the offset the
// next appended record gets, unless a Write is waiting for its Commit.
func (l *Log) NextOffset() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int64(l.durable.Load() - 1)
}

// LastTimestamp is the newest record's timestamp, 0 if the log is empty.
func (l *Log) LastTimestamp() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastTS
}

// Size is the number of bytes of the log's segment files on disk (the time
// index and quarantine files are not counted).
func (l *Log) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var n int64
	for _, s := range l.segs {
		n += s.size
	}
	return n
}

// OffsetForTime returns the first offset whose record's Timestamp >= ts, or
// NextOffset if there is none. It finds the last time-index entry older than
// ts and scans forward from there (at most about IndexInterval records).
func (l *Log) OffsetForTime(ts int64) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return 0, err
	}
	idx := l.first
	if e, ok := l.index.lastBefore(ts); ok && uint64(e.off)+1 > idx {
		idx = uint64(e.off) + 1
	}
	durable := l.durable.Load()
	for ; idx < durable; idx++ {
		m, err := l.readMeta(idx)
		if err != nil {
			return 0, err
		}
		if m.Timestamp >= ts {
			return int64(idx - 1), nil
		}
	}
	return int64(durable - 1), nil
}

// TruncateAll removes every record. NextOffset does not change, also across
// a reopen: tidwall keeps one empty segment named after the next index.
// The directory is synced before it returns, so the truncation is durable.
func (l *Log) TruncateAll() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return err
	}
	return l.truncateFront(l.next, len(l.segs)-1)
}

// truncateFront removes every record before index cut, which must be the
// start of segment segIdx (or l.next, the start of the empty tail, to remove
// everything).
func (l *Log) truncateFront(cut uint64, segIdx int) error {
	if cut <= l.first {
		return nil
	}
	err := l.tw.TruncateFront(cut)
	if err == nil {
		err = l.opts.Faults.after(false)
	}
	if err != nil {
		return l.poison("truncate", err)
	}
	if cut == l.next {
		// Everything is gone: tidwall renamed the tail to the next index and
		// emptied it (AllowEmpty).
		l.segs = []segment{{start: cut}}
		l.lastTS = 0
		// The removed records include any written but not yet committed;
		// their Commit can only confirm an empty range now.
		l.durable.Store(cut) // Commit only raises it, never past l.next
	} else {
		l.segs = slices.Clone(l.segs[segIdx:])
	}
	l.first = cut
	l.sealed.forget()
	// The segment deletions and the START rename must reach the disk before
	// we report the records gone.
	if err := syncDir(l.dir); err != nil {
		return l.poison("truncate: sync directory", err)
	}
	if cut == l.next {
		// tidwall replaced the tail file (a new inode): Commit must sync the
		// new one.
		if err := l.openTail(); err != nil {
			return l.poison("truncate: open new tail segment", err)
		}
	}
	l.index.pruneBefore(int64(cut - 1))
	if err := l.index.rewrite(); err != nil {
		return l.poison("truncate: rewrite time index", err)
	}
	return nil
}

// ApplyRetention removes whole sealed segments whose newest record is older
// than minTimestamp, then, if Options.MaxBytes > 0, the oldest sealed segments
// while the log is larger than MaxBytes. If every record is older than
// minTimestamp it empties the log as TruncateAll does. It returns the number
// of records removed. Records in the segment being written are never removed
// unless the whole log expired.
func (l *Log) ApplyRetention(minTimestamp int64) (removed int64, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return 0, err
	}
	if l.first == l.next {
		return 0, nil
	}
	before := l.first
	if l.lastTS < minTimestamp {
		if err := l.truncateFront(l.next, len(l.segs)-1); err != nil {
			return 0, err
		}
		return int64(l.next - before), nil
	}
	j := 0 // segments [0, j) are to be removed
	for ; j < len(l.segs)-1; j++ {
		expired, err := l.segmentExpired(j, minTimestamp)
		if err != nil {
			return 0, err
		}
		if !expired {
			break
		}
	}
	if l.opts.MaxBytes > 0 {
		var total int64
		for _, s := range l.segs[j:] {
			total += s.size
		}
		for ; j < len(l.segs)-1 && total > l.opts.MaxBytes; j++ {
			total -= l.segs[j].size
		}
	}
	if j == 0 {
		return 0, nil
	}
	if err := l.truncateFront(l.segs[j].start, j); err != nil {
		return 0, err
	}
	return int64(l.first - before), nil
}

// segmentExpired reports whether every record of sealed segment i is older
// than minTS. It first asks the time index for the next segment's first
// timestamp (an upper bound, free) and only reads the segment's last record
// when that is not conclusive.
func (l *Log) segmentExpired(i int, minTS int64) (bool, error) {
	s, nextStart := &l.segs[i], l.segs[i+1].start
	if nextStart <= s.start {
		return true, nil // no records
	}
	if !s.hasTS {
		if e, ok := l.index.at(int64(nextStart - 1)); ok && e.ts < minTS {
			return true, nil
		}
		m, err := l.readMeta(nextStart - 1)
		if err != nil {
			return false, err
		}
		s.lastTS, s.hasTS = m.Timestamp, true
	}
	return s.lastTS < minTS, nil
}

// Sync fsyncs the segment being written. Only useful with Options.NoSync; a
// failure poisons the Log.
func (l *Log) Sync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return err
	}
	err := l.tw.Sync()
	if err == nil {
		err = l.opts.Faults.after(false)
	}
	if err != nil {
		return l.poison("sync", err)
	}
	return nil
}

// Close syncs and closes the files. A poisoned Log closes too (that is how
// its owner gets rid of it before reopening); its close errors are not
// reported. Calls after Close return ErrClosed.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	l.closed = true
	poisoned := l.poisoned != nil || l.syncFailed.Load()
	if !poisoned {
		// The unsealed tail's entries; a poisoned log's memory may be
		// ahead of its files, so its index is left for Open to rebuild.
		if err := l.index.persistBefore(int64(l.next)); err != nil {
			l.log.Warn().Err(err).Str("dir", l.dir).Msg("wal: time index not written; it is rebuilt at the next open")
		}
	}
	l.sealed.close()
	err := errors.Join(l.tw.Close(), l.index.close(), l.closeTails())
	if poisoned || err == nil {
		return nil
	}
	return fmt.Errorf("wal: close %s: %w: %w", l.dir, config.ErrStorage, err)
}

// usable returns the error every operation returns on a closed or poisoned
// Log.
func (l *Log) usable() error {
	if l.closed {
		return ErrClosed
	}
	if l.poisoned != nil {
		return fmt.Errorf("%w (%w)", ErrPoisoned, l.poisoned)
	}
	if l.syncFailed.Load() {
		l.cmu.Lock()
		err := l.syncErr
		l.cmu.Unlock()
		return fmt.Errorf("%w (%w)", ErrPoisoned, err)
	}
	return nil
}

// poison records the first write failure; from now on only Close works.
func (l *Log) poison(op string, err error) error {
	if l.poisoned == nil {
		l.poisoned = err
		l.log.Error().Err(err).Str("dir", l.dir).Str("op", op).Msg("wal: write failed, log poisoned until reopened")
	}
	return fmt.Errorf("wal: %s: %w (%w)", op, ErrPoisoned, err)
}

// readMeta reads and validates the record at tidwall index idx.
func (l *Log) readMeta(idx uint64) (recordMeta, error) {
	data, err := l.tw.Read(idx)
	if err != nil {
		return recordMeta{}, fmt.Errorf("wal: read offset %d: %w", idx-1, storageErr(err))
	}
	m, _, err := decodeMeta(data)
	if err != nil {
		return recordMeta{}, fmt.Errorf("wal: read offset %d: %w", idx-1, err)
	}
	return m, nil
}

// storageErr maps tidwall's errors to ours; anything else is an I/O error.
func storageErr(err error) error {
	switch {
	case errors.Is(err, ErrCorrupt) || errors.Is(err, config.ErrStorage):
		return err
	case errors.Is(err, tidwal.ErrCorrupt):
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	case errors.Is(err, tidwal.ErrClosed):
		return ErrClosed
	default:
		return fmt.Errorf("%w: %w", config.ErrStorage, err)
	}
}

// segmentName is tidwall's file name for the segment starting at index.
func segmentName(index uint64) string {
	return fmt.Sprintf("%020d", index)
}

// parseSegmentName returns the start index of a segment file name in
// tidwall's scheme (20 digits, index > 0); suffix is "", ".START" or ".END".
func parseSegmentName(name string) (index uint64, suffix string, ok bool) {
	if len(name) < 20 {
		return 0, "", false
	}
	index, err := strconv.ParseUint(name[:20], 10, 64)
	if err != nil || index == 0 {
		return 0, "", false
	}
	switch suffix = name[20:]; suffix {
	case "", ".START", ".END":
		return index, suffix, true
	}
	return 0, "", false
}

// listSegments lists the plain segment files of dir (after tidwall has
// resolved any START/END leftovers) with their sizes, oldest first.
func listSegments(dir string) ([]segment, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", config.ErrStorage, err)
	}
	var segs []segment
	for _, de := range des {
		idx, suffix, ok := parseSegmentName(de.Name())
		if !ok || suffix != "" || de.IsDir() {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", config.ErrStorage, err)
		}
		segs = append(segs, segment{start: idx, size: fi.Size()})
	}
	return segs, nil
}

// syncDir fsyncs a directory so that file creations, renames and removals
// in it survive a crash. tidwall/wal never does this itself.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("%w: %w", config.ErrStorage, err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil && !errors.Is(err, fs.ErrInvalid) {
		return fmt.Errorf("%w: sync directory %s: %w", config.ErrStorage, dir, err)
	}
	return nil
}
