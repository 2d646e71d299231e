package wal

import (
	"encoding/binary"
	"os"
	"path/filepath"
)

// sealedReader serves sequential fetches from sealed segments straight from
// their files. tidwall answers a read from a segment that is not cached by
// loading the whole segment (os.ReadFile of up to SegmentSize bytes, zeroed
// first, then an index of every entry), which is most of the CPU a
// consumer catching up costs; a consumer reading on from where its last
// fetch stopped needs none of that. The reader remembers where recent
// fetches stopped (index and file position: the start of every segment is
// known too) and reads one fetch's worth of bytes there with one pread
// into a buffer it keeps. Every entry is still validated by the record
// decoder, and anything unexpected (no known position, an entry larger
// than the read, framing that does not add up) falls back to tidwall.
//
// Sealed segments never change: tidwall only appends to the tail, and we
// only truncate at segment starts (retention) or everything.
//
// Its state is guarded by Log.mu.
type sealedReader struct {
	f       *os.File
	fStart  uint64       // first index of the segment f is open on
	cursors [8]cursor    // where recent fetches stopped, most recent first
	buf     []byte       // the read arena, reused by the next Fetch
	scratch [][]byte     // entry views handed out by the current read
	stats   sealedCounts // for tests
	// avgEntry is a running average of entry size with framing, to size
	// reads.
	avgEntry int64
}

type cursor struct {
	idx uint64 // tidwall index of the next entry
	pos int64  // its framing's byte position in its segment
}

type sealedCounts struct{ hits, misses int }

// uvarintMax is the longest framing tidwall writes before an entry.
const uvarintMax = binary.MaxVarintLen64

// entries returns up to maxEvents consecutive entries (tidwall entry data,
// our envelopes) starting at index idx, all inside sealed segment seg, of
// at most budget bytes of data in all; if first, the first entry is
// returned whatever its size (as long as it fits the read). The bytes are
// read into arena after its length, growing it into a new array when full
// (views handed out earlier keep the old one), and the extended arena is
// returned. ok is false when the reader cannot serve idx (the caller reads
// through tidwall); ok with no views means the next entry exceeds budget.
func (r *sealedReader) entries(l *Log, seg int, idx uint64, maxEvents, budget int, first bool, arena []byte) (views [][]byte, grown []byte, ok bool) {
	s := l.segs[seg]
	end := l.segs[seg+1].start // first index after the segment
	pos, known := r.position(s.start, idx)
	if !known || idx >= end || maxEvents <= 0 {
		r.stats.misses++
		return nil, arena, false
	}
	// Read about what maxEvents entries of the recent average size need,
	// never more than the budget allows; a fetch that needs more reads on
	// from where this read stopped (the position is remembered).
	avg := max(r.avgEntry, 64)
	want := min(int64(max(budget, 0))+int64(maxEvents)*uvarintMax+uvarintMax,
		int64(maxEvents)*avg*5/4+4096, s.size-pos)
	if want <= 0 || r.open(l, s.start) != nil {
		r.stats.misses++
		return nil, arena, false
	}
	var buf []byte
	for attempt := 0; ; attempt++ {
		if int64(cap(arena)-len(arena)) < want {
			arena = make([]byte, 0, max(2*cap(arena), int(want)))
		}
		buf = arena[len(arena) : len(arena)+int(want)]
		if n, _ := r.f.ReadAt(buf, pos); int64(n) < want {
			r.stats.misses++
			return nil, arena, false
		}
		// An entry larger than the read: read it whole once, if it may be
		// returned and the segment holds it.
		dl, k := binary.Uvarint(buf)
		need := int64(k) + int64(dl)
		if attempt > 0 || k <= 0 || need <= want || need > s.size-pos || (!first && int(dl) > budget) {
			break
		}
		want = need
	}
	r.scratch = r.scratch[:0]
	size, off := 0, 0
	for next := idx; next < end && len(r.scratch) < maxEvents; next++ {
		dl, k := binary.Uvarint(buf[off:])
		if k <= 0 || uint64(len(buf)-off-k) < dl {
			break // framing cut by the read's end (or damaged): stop here
		}
		if (!first || len(r.scratch) > 0) && size+int(dl) > budget {
			break
		}
		r.scratch = append(r.scratch, buf[off+k:off+k+int(dl):off+k+int(dl)])
		size += int(dl)
		off += k + int(dl)
	}
	if len(r.scratch) == 0 {
		if dl, k := binary.Uvarint(buf); !first && k > 0 && int(dl) > budget {
			return nil, arena, true // the next entry exceeds the byte budget
		}
		r.stats.misses++ // damaged framing, or an oddity: tidwall decides
		return nil, arena, false
	}
	if n := len(r.scratch); n > 0 {
		r.avgEntry = (r.avgEntry*3 + int64(off/n)) / 4
	}
	r.stats.hits++
	r.remember(idx+uint64(len(r.scratch)), pos+int64(off), end)
	return r.scratch, arena[:len(arena)+off], true
}

// position returns the byte position of index idx in the segment starting
// at segStart, if known.
func (r *sealedReader) position(segStart, idx uint64) (int64, bool) {
	if idx == segStart {
		return 0, true
	}
	for _, c := range r.cursors {
		if c.idx == idx && c.idx != 0 {
			return c.pos, true
		}
	}
	return 0, false
}

// remember records that index idx sits at pos, unless idx is the next
// segment's start (position 0, known anyway).
func (r *sealedReader) remember(idx uint64, pos int64, segEnd uint64) {
	if idx >= segEnd {
		return
	}
	i := 0
	for i < len(r.cursors)-1 && r.cursors[i].idx != idx {
		i++
	}
	copy(r.cursors[1:i+1], r.cursors[:i])
	r.cursors[0] = cursor{idx: idx, pos: pos}
}

// open makes f the segment starting at start.
func (r *sealedReader) open(l *Log, start uint64) error {
	if r.f != nil && r.fStart == start {
		return nil
	}
	r.close()
	f, err := os.Open(filepath.Join(l.dir, segmentName(start)))
	if err != nil {
		return err
	}
	r.f, r.fStart = f, start
	return nil
}

// forget drops every position (after a truncation the indexes are reused
// by no file we know, and the open segment may be gone).
func (r *sealedReader) forget() {
	r.cursors = [8]cursor{}
	r.close()
}

func (r *sealedReader) close() {
	if r.f != nil {
		_ = r.f.Close()
		r.f = nil
	}
}

// sealedSegment returns the position in l.segs of the sealed segment
// holding index idx, or -1 if idx is in the tail (or out of range).
func (l *Log) sealedSegment(idx uint64) int {
	lo, hi := 0, len(l.segs)-1 // the last segment is the tail
	for lo < hi {
		mid := (lo + hi) / 2
		if l.segs[mid+1].start <= idx {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo >= len(l.segs)-1 || idx < l.segs[lo].start {
		return -1
	}
	return lo
}
