package wal

import (
	"testing"
	"unsafe"
)

func TestTailCapacity(t *testing.T) {
	const seg = 8 << 20
	for _, tc := range []struct {
		name                 string
		have, capacity, grow int
		want                 int
	}{
		{"fits the full buffer", 2 << 20, seg + tailSlack, 1 << 20, 0},
		{"fits, below the floor", tailGrowFloor / 4, tailGrowFloor, tailGrowFloor / 4, 0},
		{"fits, past the floor", 2 << 20, 3 << 20, 1 << 20, seg + tailSlack},
		{"nothing to add", 2 << 20, 2 << 20, 0, 0},
		{"small tail left to append", tailGrowFloor / 2, tailGrowFloor / 2, tailGrowFloor / 4, 0},
		{"just under the floor", tailGrowFloor - 10, tailGrowFloor - 100, 9, 0},
		{"crosses the floor", tailGrowFloor - 10, tailGrowFloor - 10, 10, seg + tailSlack},
		{"large tail", 5 << 20, 5 << 20, 64 << 10, seg + tailSlack},
		{"fresh segment, big batch", 0, 0, 2 << 20, seg + tailSlack},
		{"beyond the slack", seg - 1, seg, 1 << 20, seg - 1 + 1<<20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tailCapacity(tc.have, tc.capacity, tc.grow, seg); got != tc.want {
				t.Fatalf("tailCapacity(%d, %d, %d) = %d, want %d", tc.have, tc.capacity, tc.grow, got, tc.want)
			}
		})
	}
}

// TestTailBufferReserved writes ~1 KiB records across several segment
// rolls and checks, after every write, that tidwall's tail buffer is the
// one the Log sizes (its length is the tail segment's size) and that a
// tail past tailGrowFloor has room for the whole segment, so that it never
// grows again by append. It fails if the pinned tidwall changes the field
// the Log reaches into, or if the reservation stops taking effect; the
// records must read back the same before and after a reopen.
func TestTailBufferReserved(t *testing.T) {
	if !tidwallTail.ok {
		t.Fatal("tidwall's tail buffer field was not found: tailbuf.go no longer matches the pinned github.com/tidwall/wal")
	}
	forEachMode(t, func(t *testing.T, opts Options) {
		opts.SegmentSize = 2 * tailGrowFloor
		opts.IndexInterval = DefaultIndexInterval
		dir := t.TempDir()
		l := mustOpen(t, dir, opts)
		var all []Record
		reserved := 0
		for ts := int64(1); len(l.segs) < 4; ts++ {
			req := request(len(all), 64, ts, 1000)
			mustAppend(t, l, req)
			all = append(all, req...)

			l.mu.Lock()
			tail := l.segs[len(l.segs)-1].size
			p := tailBuffer(l.tw)
			l.mu.Unlock()
			if p == nil {
				t.Fatal("tidwall's tail buffer cannot be reached")
			}
			if int64(len(*p)) != tail {
				t.Fatalf("tidwall's tail buffer holds %d bytes, the tail segment %d", len(*p), tail)
			}
			if tail >= tailGrowFloor {
				if cap(*p) < opts.SegmentSize {
					t.Fatalf("tail of %d bytes has a buffer of capacity %d, want at least the segment size %d", tail, cap(*p), opts.SegmentSize)
				}
				reserved++
			}
		}
		if reserved == 0 {
			t.Fatal("no write found a tail past tailGrowFloor; the test does not test anything")
		}
		checkSegmentsOnDisk(t, l)
		checkLog(t, l, 0, all)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		l = mustOpen(t, dir, opts)
		checkLog(t, l, 0, all)
	})
}

// TestTailBufferMismatchLeftAlone: when the Log's idea of the tail's size
// differs from the buffer's length, the buffer is not touched.
func TestTailBufferMismatchLeftAlone(t *testing.T) {
	opts := testOptions(t)
	opts.SegmentSize = 4 * tailGrowFloor
	l := mustOpen(t, t.TempDir(), opts)
	mustAppend(t, l, request(0, 10, 1, 100))
	l.mu.Lock()
	defer l.mu.Unlock()
	p := tailBuffer(l.tw)
	if p == nil {
		t.Fatal("tidwall's tail buffer cannot be reached")
	}
	before, c := unsafe.SliceData(*p), cap(*p)
	l.reserveTail(int64(len(*p))+1, 2*tailGrowFloor)
	if unsafe.SliceData(*p) != before || cap(*p) != c {
		t.Fatal("reserveTail replaced a buffer whose length does not match the tail's size")
	}
	l.reserveTail(int64(len(*p)), 2*tailGrowFloor)
	if cap(*p) < 2*tailGrowFloor {
		t.Fatalf("reserveTail with the right size left capacity %d", cap(*p))
	}
}

// TestReleaseIdle: a log with a reserved tail gives the room back once a
// whole housekeeping period passed without writes, keeps it while written
// to, reserves again when writes resume, and loses no record either way.
func TestReleaseIdle(t *testing.T) {
	opts := testOptions(t)
	opts.SegmentSize = 4 * tailGrowFloor
	opts.IndexInterval = DefaultIndexInterval
	l := mustOpen(t, t.TempDir(), opts)
	var all []Record
	write := func() {
		req := request(len(all), 64, int64(len(all)+1), 1000)
		mustAppend(t, l, req)
		all = append(all, req...)
	}
	tailCap := func() int {
		l.mu.Lock()
		defer l.mu.Unlock()
		return cap(*tailBuffer(l.tw))
	}
	for i := 0; i < 3; i++ { // ~200 KiB: past the floor, one segment
		write()
	}
	if tailCap() < opts.SegmentSize {
		t.Fatalf("tail not reserved: capacity %d", tailCap())
	}
	if n := l.ReleaseIdle(); n != 0 {
		t.Fatalf("released %d bytes of a log written since the last pass", n)
	}
	if n := l.ReleaseIdle(); n <= 0 {
		t.Fatal("an idle log kept its reservation")
	}
	l.mu.Lock()
	size := l.segs[len(l.segs)-1].size
	l.mu.Unlock()
	if c := tailCap(); int64(c) != size {
		t.Fatalf("idle tail holds capacity %d for %d bytes", c, size)
	}
	checkLog(t, l, 0, all)
	write()
	if tailCap() < opts.SegmentSize {
		t.Fatalf("tail not reserved again after writes resumed: capacity %d", tailCap())
	}
	if n := l.ReleaseIdle(); n != 0 {
		t.Fatalf("released %d bytes right after a write", n)
	}
	checkLog(t, l, 0, all)
}
