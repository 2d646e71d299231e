package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/weirflow/weir/config"
)

// The sparse time index maps a timestamp to an offset without reading the
// log: one entry every Options.IndexInterval offsets and one at every segment
// start, so OffsetForTime scans at most about IndexInterval records and
// retention can often tell that a segment expired without loading it.
//
// It lives beside the segments in the file "timeindex" (tidwall ignores
// names that are not 20 digits). The entries of the segment being written
// are kept in memory only; a segment's entries are appended to the file when
// it is sealed (the batch that rolled to a new segment) and the rest on
// Close, never with an fsync. Writing the file on every Append used to cost
// more than the Append itself: on ext4 (data=ordered) the segment's fsync
// commits the journal with the index file's pending size change and data in
// it. The file is a hint, checked and completed on every Open (the unsealed
// tail's entries are rebuilt by reading its index points, and tidwall has
// that segment in memory already), so losing its tail in a crash costs a
// scan, never a wrong answer.
//
// File layout: the 8-byte magic "WEIRTIX1", then 20-byte entries:
//
//	off  size  field
//	0    8     offset, int64 little-endian
//	8    8     timestamp, int64 µs little-endian
//	16   4     CRC32C (Castagnoli) of bytes 0..15, little-endian
const (
	timeIndexFile  = "timeindex"
	indexEntryLen  = 20
	timeIndexMagic = "WEIRTIX1"
)

// indexEntry says: the record at offset off has timestamp ts.
type indexEntry struct {
	off int64
	ts  int64
}

// timeIndex holds the entries in memory (offsets strictly increasing,
// timestamps non-decreasing); the file holds the first persisted of them.
// The file is opened only to append (once per sealed segment, and at
// Close), not kept open: an open log already holds tidwall's segment and
// our tail descriptor, and thousands of partitions are thousands of them.
type timeIndex struct {
	path      string
	ready     bool // the file was (re)written and may be appended to
	entries   []indexEntry
	persisted int
	buf       []byte
}

// lastBefore returns the newest entry whose timestamp is < ts.
func (ix *timeIndex) lastBefore(ts int64) (indexEntry, bool) {
	i := sort.Search(len(ix.entries), func(i int) bool { return ix.entries[i].ts >= ts })
	if i == 0 {
		return indexEntry{}, false
	}
	return ix.entries[i-1], true
}

// at returns the entry for exactly offset off, if there is one.
func (ix *timeIndex) at(off int64) (indexEntry, bool) {
	i := sort.Search(len(ix.entries), func(i int) bool { return ix.entries[i].off >= off })
	if i < len(ix.entries) && ix.entries[i].off == off {
		return ix.entries[i], true
	}
	return indexEntry{}, false
}

// persistBefore appends to the file the in-memory entries for offsets below
// off that it does not hold yet (those of sealed segments). The file is a
// hint: no fsync, and a failed write leaves it for Open to complete.
func (ix *timeIndex) persistBefore(off int64) error {
	end := ix.persisted
	for end < len(ix.entries) && ix.entries[end].off < off {
		end++
	}
	if end == ix.persisted || !ix.ready {
		return nil
	}
	ix.buf = ix.buf[:0]
	for _, e := range ix.entries[ix.persisted:end] {
		ix.buf = appendIndexEntry(ix.buf, e)
	}
	// Counted as persisted even if the write fails: appending after a torn
	// entry would only add entries the reader never reaches, and Open
	// rebuilds whatever is missing.
	ix.persisted = end
	f, err := os.OpenFile(ix.path, os.O_WRONLY|os.O_APPEND, filePerms)
	if err != nil {
		return fmt.Errorf("%w: open time index: %w", config.ErrStorage, err)
	}
	_, err = f.Write(ix.buf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%w: write time index: %w", config.ErrStorage, err)
	}
	return nil
}

// pruneBefore drops the entries for offsets below off.
func (ix *timeIndex) pruneBefore(off int64) {
	i := sort.Search(len(ix.entries), func(i int) bool { return ix.entries[i].off >= off })
	ix.entries = append(ix.entries[:0], ix.entries[i:]...)
}

// rewrite replaces the file with the in-memory entries (temp file, fsync,
// rename) and lets persistBefore append to it. The rename is not followed by a
// directory sync on purpose: if it is lost, Open filters the old file's
// entries against the log and gets the same result.
func (ix *timeIndex) rewrite() error {
	if err := ix.close(); err != nil {
		return err
	}
	buf := make([]byte, 0, len(timeIndexMagic)+len(ix.entries)*indexEntryLen)
	buf = append(buf, timeIndexMagic...)
	for _, e := range ix.entries {
		buf = appendIndexEntry(buf, e)
	}
	tmp := ix.path + ".tmp"
	if err := writeFileSync(tmp, buf); err != nil {
		return err
	}
	if err := os.Rename(tmp, ix.path); err != nil {
		return fmt.Errorf("%w: %w", config.ErrStorage, err)
	}
	// Like every other rename in wal/: the new name is durable only once
	// the directory is. (A lost index is rebuilt on open, but a stale one
	// would be detected and rewritten again at every open.)
	if err := syncDir(filepath.Dir(ix.path)); err != nil {
		return err
	}
	ix.ready = true
	ix.persisted = len(ix.entries)
	return nil
}

// close stops appends to the file (nothing is held open between them).
func (ix *timeIndex) close() error {
	ix.ready = false
	return nil
}

func appendIndexEntry(dst []byte, e indexEntry) []byte {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(e.off))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(e.ts))
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

// readIndexFile returns the valid prefix of an index file: entries up to the
// first torn or damaged one. A missing file or a wrong magic gives no entries.
func readIndexFile(path string) ([]indexEntry, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", config.ErrStorage, err)
	}
	if len(data) < len(timeIndexMagic) || string(data[:len(timeIndexMagic)]) != timeIndexMagic {
		return nil, nil
	}
	data = data[len(timeIndexMagic):]
	var es []indexEntry
	for ; len(data) >= indexEntryLen; data = data[indexEntryLen:] {
		if crc32.Checksum(data[:16], castagnoli) != binary.LittleEndian.Uint32(data[16:]) {
			break
		}
		es = append(es, indexEntry{
			off: int64(binary.LittleEndian.Uint64(data)),
			ts:  int64(binary.LittleEndian.Uint64(data[8:])),
		})
	}
	return es, nil
}

// loadIndex reads the index file, keeps the entries that agree with the log,
// and completes it by reading the records at the missing index points. The
// file is trusted only if it is consistent: offsets inside the log, strictly
// increasing, timestamps non-decreasing, an entry at every segment start it
// covers, and its newest entry matching the record it names. Otherwise it is
// rebuilt from the log (one read per index point, so each segment is loaded
// once).
func (l *Log) loadIndex() error {
	l.index.path = filepath.Join(l.dir, timeIndexFile)
	stored, err := readIndexFile(l.index.path)
	if err != nil {
		return err
	}
	firstOff, nextOff := int64(l.first-1), int64(l.next-1)
	kept := make([]indexEntry, 0, len(stored))
	trusted := true
	for _, e := range stored {
		if e.off < firstOff || e.off >= nextOff {
			continue // removed by retention or cut by repair
		}
		if n := len(kept); n > 0 && (e.off <= kept[n-1].off || e.ts < kept[n-1].ts) {
			trusted = false
			break
		}
		kept = append(kept, e)
	}
	if trusted && len(kept) > 0 {
		newest := kept[len(kept)-1]
		m, err := l.readMeta(uint64(newest.off) + 1)
		trusted = err == nil && m.Timestamp == newest.ts
		for i := 0; trusted && i < len(l.segs) && int64(l.segs[i].start-1) <= newest.off; i++ {
			if l.segs[i].start >= l.next {
				break
			}
			_, has := (&timeIndex{entries: kept}).at(int64(l.segs[i].start - 1))
			trusted = has
		}
	}
	if !trusted {
		l.log.Warn().Str("dir", l.dir).Int("entries", len(stored)).Msg("wal: time index inconsistent with the log; rebuilding it")
		kept = kept[:0]
	}
	from := firstOff
	if len(kept) > 0 {
		from = kept[len(kept)-1].off + 1
	}
	seg := 0
	for off := from; off < nextOff; off++ {
		for seg+1 < len(l.segs) && int64(l.segs[seg+1].start-1) <= off {
			seg++
		}
		if off%int64(l.opts.IndexInterval) != 0 && int64(l.segs[seg].start-1) != off {
			continue
		}
		m, err := l.readMeta(uint64(off) + 1)
		if err != nil {
			// A damaged record in a sealed segment: leave it out of the
			// index (reads of it report ErrCorrupt) rather than refuse to
			// open the whole partition.
			l.log.Error().Err(err).Str("dir", l.dir).Int64("offset", off).Msg("wal: unreadable record while building the time index")
			continue
		}
		kept = append(kept, indexEntry{off: off, ts: m.Timestamp})
	}
	l.index.entries = kept
	return l.index.rewrite()
}

// writeFileSync writes data to a new file at path and fsyncs it.
func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, filePerms)
	if err != nil {
		return fmt.Errorf("%w: %w", config.ErrStorage, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%w: %w", config.ErrStorage, err)
	}
	return nil
}
