package wal

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"github.com/weirflow/weir/config"
)

// TestSealedReader reads a log of many sealed segments the way consumers
// do, in pages, from the start, from the middle, and as several readers
// interleaved, and checks that every page equals what tidwall gives back,
// that sequential pages are served from the segment files (hits), and
// that reads across segment boundaries and byte budgets stay exact.
func TestSealedReader(t *testing.T) {
	opts := testOptions(t) // 4 KiB segments
	l := mustOpen(t, t.TempDir(), opts)
	var all []Record
	for i := 0; i < 120; i++ {
		req := request(len(all), 1+i%3, int64(100+i), 40+(i*37)%300)
		mustAppend(t, l, req)
		all = append(all, req...)
	}
	if len(l.segs) < 10 {
		t.Fatalf("only %d segments", len(l.segs))
	}
	check := func(t *testing.T, es []Entry, from int64) {
		t.Helper()
		for i, e := range es {
			if e.Offset != from+int64(i) || !sameRecord(e.Record, all[e.Offset]) {
				t.Fatalf("fetch from %d: entry %d is offset %d %+v, want offset %d %+v", from, i, e.Offset, e.Record, from+int64(i), all[from+int64(i)])
			}
		}
	}
	for _, tc := range []struct {
		name      string
		starts    []int64 // one reader per start, interleaved
		maxEvents int
		maxBytes  int
	}{
		{"one reader, small pages", []int64{0}, 5, 0},
		{"one reader, byte budget", []int64{0}, 1000, 700},
		{"one reader, big pages", []int64{0}, 1000, 1 << 20},
		{"from the middle of a segment", []int64{37}, 7, 0},
		{"three readers interleaved", []int64{0, 50, 101}, 4, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l.mu.Lock()
			l.sealed.forget()
			l.sealed.stats = sealedCounts{}
			l.mu.Unlock()
			pos := append([]int64(nil), tc.starts...)
			for done := 0; done < len(pos); {
				done = 0
				for i, from := range pos {
					if from >= int64(len(all)) {
						done++
						continue
					}
					es, err := l.Fetch(from, tc.maxEvents, tc.maxBytes)
					if err != nil || len(es) == 0 {
						t.Fatalf("Fetch(%d): %d entries, %v", from, len(es), err)
					}
					if tc.maxEvents < len(all) && len(es) > tc.maxEvents {
						t.Fatalf("Fetch(%d) returned %d entries, max %d", from, len(es), tc.maxEvents)
					}
					check(t, es, from)
					pos[i] = from + int64(len(es))
				}
			}
			l.mu.Lock()
			st := l.sealed.stats
			l.mu.Unlock()
			if st.hits == 0 {
				t.Fatalf("no fetch was served from the segment files: %+v", st)
			}
			t.Logf("%+v", st)
		})
	}
}

// TestSealedReaderAfterRetention: positions remembered before segments
// were removed are not used for indexes that no longer exist, and reads go
// on correctly from the new first offset.
func TestSealedReaderAfterRetention(t *testing.T) {
	opts := testOptions(t)
	l := mustOpen(t, t.TempDir(), opts)
	var all []Record
	for i := 0; i < 60; i++ {
		req := request(len(all), 1, int64(100+i), 200)
		mustAppend(t, l, req)
		all = append(all, req...)
	}
	es, err := l.Fetch(0, 10, 0)
	if err != nil || len(es) != 10 {
		t.Fatalf("Fetch: %d, %v", len(es), err)
	}
	if _, err := l.ApplyRetention(130); err != nil {
		t.Fatal(err)
	}
	first := l.FirstOffset()
	if first == 0 {
		t.Fatal("retention removed nothing")
	}
	got := fetchAll(t, l)
	if len(got) != len(all)-int(first) {
		t.Fatalf("%d entries after retention from %d, want %d", len(got), first, len(all)-int(first))
	}
	for i, e := range got {
		if !sameRecord(e.Record, all[int(first)+i]) {
			t.Fatalf("offset %d changed", e.Offset)
		}
	}
}

// TestSealedReaderDamage: a flipped byte inside a sealed segment is caught
// by the record checksum whether the fetch reads the file itself or
// through tidwall: Fetch returns the entries before the damaged one, then
// ErrCorrupt at it, and a fetch past it reads on.
func TestSealedReaderDamage(t *testing.T) {
	opts := testOptions(t)
	dir := t.TempDir()
	l := mustOpen(t, dir, opts)
	for i := 0; i < 40; i++ {
		mustAppend(t, l, request(i, 1, int64(100+i), 300))
	}
	l.mu.Lock()
	seg := l.segs[1] // sealed
	next := l.segs[2].start
	l.mu.Unlock()
	rewriteSegment(t, l, seg.start, func(data []byte) []byte {
		data[len(data)-10] ^= 0xff // inside the segment's last record's body
		return data
	})
	l = mustOpen(t, dir, opts)
	bad := int64(next - 2) // offset of the segment's last record
	var got int64
	for from := int64(0); from < bad; {
		es, err := l.Fetch(from, 4, 0)
		if err != nil || len(es) == 0 {
			t.Fatalf("Fetch(%d) before the damage: %d, %v", from, len(es), err)
		}
		from += int64(len(es))
		got = from
	}
	if got != bad {
		t.Fatalf("read up to %d, want exactly up to the damaged offset %d", got, bad)
	}
	if _, err := l.Fetch(bad, 4, 0); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Fetch at the damaged offset: %v, want ErrCorrupt", err)
	}
	if es, err := l.Fetch(bad+1, 4, 0); err != nil || len(es) == 0 || es[0].Offset != bad+1 {
		t.Fatalf("Fetch past the damage: %d, %v", len(es), err)
	}
}

// FuzzSealedSegmentDamage damages a sealed segment's bytes (the fuzzer's
// mask XORed in at a position; the file may also be cut short) and reads
// the whole log back in pages, through the sealed reader and through
// tidwall, and by single reads. Segment bytes on disk are untrusted input
// to both parsers: nothing may panic, every error must be ErrCorrupt, and
// every entry returned must be the one that was written at its offset.
func FuzzSealedSegmentDamage(f *testing.F) {
	f.Add(uint16(0), []byte{0xff}, uint16(0))
	f.Add(uint16(3), []byte{0x80, 0x80, 0x80}, uint16(0))
	f.Add(uint16(700), []byte{1}, uint16(0))
	f.Add(uint16(100), []byte{}, uint16(500))
	f.Add(uint16(2), []byte{0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, uint16(0))
	f.Fuzz(func(t *testing.T, pos uint16, mask []byte, cut uint16) {
		opts := testOptions(t)
		opts.NoSync = true
		opts.Logger = zerolog.Nop()
		dir := t.TempDir()
		l := mustOpen(t, dir, opts)
		var want []Record
		for i := 0; i < 30; i++ {
			req := request(i, 1, int64(100+i), 150)
			mustAppend(t, l, req)
			want = append(want, req...)
		}
		l.mu.Lock()
		seg := l.segs[1]
		l.mu.Unlock()
		rewriteSegment(t, l, seg.start, func(data []byte) []byte {
			for i, m := range mask {
				if p := int(pos) + i; p < len(data) {
					data[p] ^= m
				}
			}
			if c := int(cut); c > 0 && c < len(data) {
				data = data[:len(data)-c]
			}
			return data
		})
		l, err := Open(dir, opts)
		if err != nil {
			if !errors.Is(err, config.ErrStorage) {
				t.Fatalf("Open: %v", err)
			}
			return
		}
		defer l.Close()
		check := func(e Entry) {
			if e.Offset < 0 || e.Offset >= int64(len(want)) || !sameRecord(e.Record, want[e.Offset]) {
				t.Fatalf("offset %d: got a record that was not written there", e.Offset)
			}
		}
		for _, page := range []int{1, 4, 1000} {
			for from := int64(0); from < int64(len(want)); {
				es, err := l.Fetch(from, page, 0)
				if err != nil {
					if !errors.Is(err, ErrCorrupt) {
						t.Fatalf("Fetch(%d): %v, want ErrCorrupt", from, err)
					}
					from++ // step over the damage, as a consumer's skip would
					continue
				}
				if len(es) == 0 {
					break
				}
				for k, e := range es {
					if e.Offset != from+int64(k) {
						t.Fatalf("Fetch(%d) entry %d has offset %d", from, k, e.Offset)
					}
					check(e)
				}
				from += int64(len(es))
			}
		}
		for off := int64(0); off < int64(len(want)); off++ {
			e, err := l.Read(off)
			if err != nil {
				if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrOutOfRange) {
					t.Fatalf("Read(%d): %v", off, err)
				}
				continue
			}
			check(e)
		}
	})
}

// rewriteSegment closes l and replaces the segment file starting at start
// with what change makes of its bytes (damage for the reader tests).
func rewriteSegment(t *testing.T, l *Log, start uint64, change func([]byte) []byte) {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(l.dir, segmentName(start))
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, change(data), 0o640); err != nil {
		t.Fatal(err)
	}
}
