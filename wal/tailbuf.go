package wal

import (
	"reflect"
	"unsafe"

	tidwal "github.com/tidwall/wal"
)

// tidwall/wal keeps the whole segment being written in memory (its
// segment.ebuf, from which it serves reads of the tail) and grows that
// buffer with append as entries arrive. Filling an 8 MiB segment that way
// goes through some twenty reallocations of ever larger buffers: about four
// times the segment's bytes copied and five times its size allocated, most
// of it fresh memory the kernel must fault in. It has no option to size the
// buffer. Measured: BenchmarkWriteCPU allocated 5.1 bytes per byte written
// (1.1 with the reservation below), and on the NDJSON produce benchmark
// (issue 4) runtime.growslice under tidwall's appendBinaryEntry was 25–29%
// of all CPU samples of server and clients together.
//
// So the Log sizes that buffer itself, once, before a write takes it past
// tailGrowFloor: straight to the segment's full size plus
// tailSlack, which is what the buffer reaches anyway when the segment
// fills (tidwall seals a segment with the first entry that takes it to
// SegmentSize or beyond). Memory per open log stays what DESIGN.md states,
// about one segment plus the segment cache; a log whose tail is small keeps
// a small buffer, because below tailGrowFloor append's growth is left alone
// (those copies are small and stay in cache).
//
// The buffer is a private field of a pinned dependency, so reaching it is
// guarded three ways: the field's shape is checked once by reflection
// (tidwallTail.ok); on every use its length must equal the Log's own
// mirror of the tail segment's size (so a tidwall whose tail is not that
// buffer is never touched); and TestTailBufferReserved fails if the
// reservation stops taking effect, e.g. after a tidwall upgrade. When a
// guard fails the Log just lets tidwall grow the buffer as before. The
// swap keeps the bytes and the length, and tidwall's entry positions are
// offsets, so nothing tidwall holds is invalidated; slices handed out
// earlier keep the old array alive and unchanged. It runs under l.mu, like
// every call into tidwall.
const (
	tailGrowFloor = 128 << 10
	tailSlack     = 64 << 10
)

// tidwallTail is where tidwall's tail buffer lives: Log.segments[last].ebuf.
var tidwallTail = findTidwallTail()

type tailFields struct {
	ok             bool
	segments, ebuf int // field indexes in tidwal.Log and in its segment
}

func findTidwallTail() tailFields {
	segs, found := reflect.TypeFor[tidwal.Log]().FieldByName("segments")
	if !found || len(segs.Index) != 1 || segs.Type.Kind() != reflect.Slice {
		return tailFields{}
	}
	elem := segs.Type.Elem()
	if elem.Kind() != reflect.Pointer || elem.Elem().Kind() != reflect.Struct {
		return tailFields{}
	}
	ebuf, found := elem.Elem().FieldByName("ebuf")
	if !found || len(ebuf.Index) != 1 || ebuf.Type != reflect.TypeFor[[]byte]() {
		return tailFields{}
	}
	return tailFields{ok: true, segments: segs.Index[0], ebuf: ebuf.Index[0]}
}

// tailBuffer returns tidwall's buffer of the segment being written, or nil
// if it cannot be reached.
func tailBuffer(tw *tidwal.Log) *[]byte {
	if !tidwallTail.ok || tw == nil {
		return nil
	}
	segs := reflect.ValueOf(tw).Elem().Field(tidwallTail.segments)
	if segs.Len() == 0 {
		return nil
	}
	s := segs.Index(segs.Len() - 1)
	if s.IsNil() {
		return nil
	}
	f := s.Elem().Field(tidwallTail.ebuf)
	return (*[]byte)(unsafe.Pointer(f.UnsafeAddr()))
}

// tailCapacity is the capacity to give a tail buffer of length have and
// capacity capacity that is about to take grow more bytes, in a log of
// segment size seg; 0 means leave it as it is (to append, below the floor).
// Past the floor the buffer is given the whole segment even if this write
// would still fit: the copy costs the same now as at the next write, and a
// tail past the floor then always has its full buffer.
func tailCapacity(have, capacity, grow, seg int) int {
	need := have + grow
	if grow <= 0 || need < tailGrowFloor || (need <= capacity && capacity >= seg) {
		return 0
	}
	return max(need, seg+tailSlack)
}

// reserveTail makes room in tidwall's tail buffer for grow more bytes
// (see the comment at the top of this file). have is the tail segment's
// size by the Log's own accounting; it must match the buffer's length.
// Called with l.mu held, right before the WriteBatch that adds those bytes.
func (l *Log) reserveTail(have int64, grow int) {
	p := tailBuffer(l.tw)
	if p == nil || int64(len(*p)) != have {
		return
	}
	c := tailCapacity(len(*p), cap(*p), grow, l.opts.SegmentSize)
	if c == 0 {
		return
	}
	b := make([]byte, len(*p), c)
	copy(b, *p)
	*p = b
}

// ReleaseIdle gives back the room reserved in tidwall's tail buffer when
// nothing was written since the previous call, and returns how many bytes
// that freed. The reservation is for logs being written; without this a
// log that received a few hundred KiB once would hold a whole segment for
// as long as it stays open (many small topics would each keep several
// segments' worth). Meant to run from a periodic housekeeping pass (the
// partition actors call it on every retention run); a log written to
// again is given its full buffer again at the next write past the floor.
func (l *Log) ReleaseIdle() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	idle := l.next == l.idleMark
	l.idleMark = l.next
	if !idle || l.usable() != nil {
		return 0
	}
	p := tailBuffer(l.tw)
	if p == nil || int64(len(*p)) != l.segs[len(l.segs)-1].size {
		return 0
	}
	spare := cap(*p) - len(*p)
	if spare <= tailSlack {
		return 0
	}
	b := make([]byte, len(*p))
	copy(b, *p)
	*p = b
	return spare
}
