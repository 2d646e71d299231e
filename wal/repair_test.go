package wal

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// tornLog is a closed log whose last request ("torn") was written after the
// acknowledged ones; tests then damage the bytes of that request as a crash
// would have.
type tornLog struct {
	dir       string
	acked     []Record
	torn      []Record
	files     []string // segment file names after the torn request, oldest first
	tornFile  int      // index in files where the torn request starts
	tornStart int64    // its byte offset in that file
	recEnds   []int64  // end of each torn record, in bytes from tornStart
}

// buildTorn writes acked requests, closes and reopens (so the torn request
// is written by a fresh instance, as after a restart), writes the torn
// request of n records and closes.
func buildTorn(t testing.TB, dir string, opts Options, n, bodySize int) tornLog {
	t.Helper()
	l, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	tl := tornLog{dir: dir}
	for i := 0; i < 12; i++ {
		req := request(len(tl.acked), 1+i%3, 1000+int64(i), 150)
		if _, err := l.Append(req); err != nil {
			t.Fatal(err)
		}
		tl.acked = append(tl.acked, req...)
	}
	tail := l.segs[len(l.segs)-1]
	tl.tornStart = tail.size
	if tail.size > int64(opts.SegmentSize) {
		t.Fatalf("test setup: oversized tail")
	}
	tl.torn = request(len(tl.acked), n, 2000, bodySize)
	seq := uint64(len(tl.acked))
	var end int64
	for i := range tl.torn {
		b := appendRecord(nil, &tl.torn[i], seq, i == n-1)
		end += int64(uvarintLen(uint64(len(b))) + len(b))
		tl.recEnds = append(tl.recEnds, end)
	}
	if _, err := l.Append(tl.torn); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	segs, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range segs {
		tl.files = append(tl.files, segmentName(s.start))
		if s.start == tail.start {
			tl.tornFile = i
		}
	}
	return tl
}

func (tl tornLog) path(i int) string { return filepath.Join(tl.dir, tl.files[i]) }

// tornBytes is everything from the start of the torn request to the end of
// the log, as it is on disk now: what repair must quarantine when it cuts
// the torn request.
func (tl tornLog) tornBytes(t testing.TB) []byte {
	t.Helper()
	var out []byte
	for i := tl.tornFile; i < len(tl.files); i++ {
		data, err := os.ReadFile(tl.path(i))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if i == tl.tornFile {
			data = data[tl.tornStart:]
		}
		out = append(out, data...)
	}
	return out
}

func quarantineFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "quarantine-*.bin"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// checkRepair opens the damaged log and checks: every acknowledged record is
// there unchanged; the torn request is there completely (keepTorn) or not at
// all; the cut bytes are in exactly one quarantine file and in a log line;
// a second open cuts nothing more; appends continue at the right offset.
func checkRepair(t *testing.T, tl tornLog, opts Options, keepTorn bool) {
	t.Helper()
	wantQuarantine := tl.tornBytes(t)
	var logs bytes.Buffer
	opts.Logger = zerolog.New(&logs)
	l, err := Open(tl.dir, opts)
	if err != nil {
		t.Fatalf("Open after damage: %v", err)
	}
	want := tl.acked
	if keepTorn {
		want = slices.Concat(tl.acked, tl.torn)
	}
	checkLog(t, l, 0, want)
	checkSegmentsOnDisk(t, l)
	q := quarantineFiles(t, tl.dir)
	if keepTorn {
		if len(q) != 0 || logs.Len() != 0 {
			t.Fatalf("nothing to cut, yet quarantine %v, log %s", q, logs.String())
		}
	} else {
		if len(q) != 1 {
			t.Fatalf("quarantine files %v, want one", q)
		}
		got, err := os.ReadFile(q[0])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, wantQuarantine) {
			t.Fatalf("quarantined %d bytes, want the %d damaged bytes", len(got), len(wantQuarantine))
		}
		var line struct {
			Level      string `json:"level"`
			Quarantine string `json:"quarantine"`
			CutBytes   int    `json:"cut_bytes"`
			Message    string `json:"message"`
		}
		if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
			t.Fatalf("repair log line %q: %v", logs.String(), err)
		}
		if line.Level != "warn" || line.Quarantine != q[0] || line.CutBytes != len(got) || !strings.Contains(line.Message, "repaired") {
			t.Fatalf("repair log line %+v", line)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, tl.dir, opts)
	if q2 := quarantineFiles(t, tl.dir); len(q2) != len(q) {
		t.Fatalf("second open quarantined again: %v", q2)
	}
	next := int64(len(want))
	more := request(1000, 2, 3000, 10)
	if first := mustAppend(t, l, more); first != next {
		t.Fatalf("append after repair at %d, want %d", first, next)
	}
	checkLog(t, l, 0, slices.Concat(want, more))
}

func lenOf(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func truncateFile(t testing.TB, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

func rewriteFile(t testing.TB, path string, f func([]byte) []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, f(data), 0o640); err != nil {
		t.Fatal(err)
	}
}

func TestRepairTail(t *testing.T) {
	last := func(tl tornLog) string { return tl.path(len(tl.files) - 1) }
	cases := []struct {
		name     string
		n, body  int // torn request: records, body size
		damage   func(t *testing.T, tl tornLog)
		keepTorn bool
	}{
		{"intact", 3, 100, func(*testing.T, tornLog) {}, true},
		{"cut mid-record", 3, 100, func(t *testing.T, tl tornLog) {
			truncateFile(t, last(tl), tl.tornStart+tl.recEnds[0]+17)
		}, false},
		{"cut inside the length prefix", 1, 300, func(t *testing.T, tl tornLog) {
			truncateFile(t, last(tl), tl.tornStart+1)
		}, false},
		{"torn request: last record missing", 3, 100, func(t *testing.T, tl tornLog) {
			truncateFile(t, last(tl), tl.tornStart+tl.recEnds[1])
		}, false},
		{"zero-filled tail", 3, 100, func(t *testing.T, tl tornLog) {
			// The file size reached the disk, the data did not.
			rewriteFile(t, last(tl), func(b []byte) []byte {
				clear(b[tl.tornStart:])
				return b
			})
		}, false},
		{"zeros after a complete request", 2, 100, func(t *testing.T, tl tornLog) {
			rewriteFile(t, last(tl), func(b []byte) []byte { return append(b, make([]byte, 700)...) })
		}, true},
		{"flipped byte in the last record", 3, 100, func(t *testing.T, tl tornLog) {
			rewriteFile(t, last(tl), func(b []byte) []byte {
				b[tl.tornStart+tl.recEnds[1]+30] ^= 0x10
				return b
			})
		}, false},
		{"flipped byte in the first record of the request", 3, 100, func(t *testing.T, tl tornLog) {
			rewriteFile(t, last(tl), func(b []byte) []byte {
				b[tl.tornStart+5] ^= 0x01
				return b
			})
		}, false},
		{"stale valid record after the log", 2, 100, func(t *testing.T, tl tornLog) {
			// A well-formed record with a valid checksum, but it claims to
			// belong to the request that started at offset 0: left over
			// from an older incarnation of the file, not written now.
			stale := appendRecord(nil, &Record{Timestamp: 2000, Body: []byte("old")}, 0, true)
			rewriteFile(t, last(tl), func(b []byte) []byte {
				return append(binary.AppendUvarint(b, uint64(len(stale))), stale...)
			})
		}, true},
		{"garbage after the log", 1, 100, func(t *testing.T, tl tornLog) {
			rewriteFile(t, last(tl), func(b []byte) []byte { return append(b, "\x05hello\x03abc"...) })
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			forEachMode(t, func(t *testing.T, opts Options) {
				tl := buildTorn(t, t.TempDir(), opts, tc.n, tc.body)
				if len(tl.files) != tl.tornFile+1 {
					t.Fatalf("test setup: torn request of this case should fit one segment")
				}
				tc.damage(t, tl)
				if tc.keepTorn {
					// Bytes after the torn request are cut but nothing that
					// was written whole; adjust what tornBytes reports.
					checkRepairKeep(t, tl, opts)
					return
				}
				checkRepair(t, tl, opts, false)
			})
		})
	}
}

// checkRepairKeep is checkRepair for damage after a complete request: every
// record stays, and only the bytes after the request are quarantined (if
// any).
func checkRepairKeep(t *testing.T, tl tornLog, opts Options) {
	t.Helper()
	extra := tl.tornBytes(t)[tl.recEnds[len(tl.recEnds)-1]:]
	l := mustOpen(t, tl.dir, opts)
	checkLog(t, l, 0, slices.Concat(tl.acked, tl.torn))
	q := quarantineFiles(t, tl.dir)
	switch {
	case len(extra) == 0 && len(q) != 0:
		t.Fatalf("intact log quarantined %v", q)
	case len(extra) > 0:
		if len(q) != 1 {
			t.Fatalf("quarantine files %v, want one", q)
		}
		got, _ := os.ReadFile(q[0])
		if !bytes.Equal(got, extra) {
			t.Fatalf("quarantined % x, want % x", got, extra)
		}
	}
	next := l.NextOffset()
	if first := mustAppend(t, l, request(0, 1, 5000, 5)); first != next {
		t.Fatalf("append after repair at %d, want %d", first, next)
	}
}

// TestRepairEveryCut cuts the torn request at every byte: the acknowledged
// records always survive and the torn request is never half there.
func TestRepairEveryCut(t *testing.T) {
	opts := testOptions(t)
	base := buildTorn(t, t.TempDir(), opts, 3, 40)
	if base.tornFile != len(base.files)-1 {
		t.Fatal("test setup: torn request should fit one segment")
	}
	var files [][]byte
	for i := range base.files {
		data, err := os.ReadFile(base.path(i))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, data)
	}
	total := base.recEnds[len(base.recEnds)-1]
	for cut := int64(0); cut < total; cut++ {
		dir := t.TempDir()
		for i, data := range files {
			if i == base.tornFile {
				data = data[:base.tornStart+cut]
			}
			if err := os.WriteFile(filepath.Join(dir, base.files[i]), data, 0o640); err != nil {
				t.Fatal(err)
			}
		}
		l, err := Open(dir, opts)
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		if l.NextOffset() != int64(len(base.acked)) {
			t.Fatalf("cut at %d: NextOffset %d, want %d", cut, l.NextOffset(), len(base.acked))
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRepairAcrossSegments: a request larger than a segment is split by
// tidwall over several files (the earlier ones fsynced at the roll). If the
// crash loses its end, the beginning in the earlier segments must go too.
func TestRepairAcrossSegments(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, tl tornLog)
	}{
		{"last segment lost", func(t *testing.T, tl tornLog) {
			if err := os.Remove(tl.path(len(tl.files) - 1)); err != nil {
				t.Fatal(err)
			}
		}},
		{"last segment empty", func(t *testing.T, tl tornLog) {
			truncateFile(t, tl.path(len(tl.files)-1), 0)
		}},
		{"last segment cut mid-record", func(t *testing.T, tl tornLog) {
			truncateFile(t, tl.path(len(tl.files)-1), 9)
		}},
		{"last segment zero-filled", func(t *testing.T, tl tornLog) {
			rewriteFile(t, tl.path(len(tl.files)-1), func(b []byte) []byte { clear(b); return b })
		}},
		// Not a crash (tidwall fsyncs a segment before starting the next)
		// but media damage: the segment before the last lost entries or a
		// byte while the last one is whole.
		{"earlier segment short by one entry", func(t *testing.T, tl tornLog) {
			truncateFile(t, tl.path(tl.tornFile), tl.tornStart+tl.recEnds[0])
		}},
		{"earlier segment flipped byte", func(t *testing.T, tl tornLog) {
			rewriteFile(t, tl.path(tl.tornFile), func(b []byte) []byte {
				b[tl.tornStart+tl.recEnds[0]+40] ^= 0x20
				return b
			})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			forEachMode(t, func(t *testing.T, opts Options) {
				opts.SegmentSize = 1024
				tl := buildTorn(t, t.TempDir(), opts, 6, 300)
				// The torn request spans at least two files, the last of
				// which must hold one of its records (not just be the empty
				// file tidwall opens after a roll).
				if len(tl.files) < tl.tornFile+2 {
					t.Fatalf("test setup: torn request in %d files", len(tl.files)-tl.tornFile)
				}
				if fi, _ := os.Stat(tl.path(len(tl.files) - 1)); fi.Size() == 0 {
					tl.files = tl.files[:len(tl.files)-1]
				}
				if tl.tornFile >= len(tl.files)-1 || tl.recEnds[0] >= lenOf(t, tl.path(tl.tornFile))-tl.tornStart {
					t.Fatalf("test setup: torn request must have its first record in one segment and its end in the next")
				}
				tc.damage(t, tl)
				checkRepair(t, tl, opts, false)
			})
		})
	}
}

// TestRepairGarbageSegment: a whole segment file of garbage after the log
// (e.g. a new segment whose data never reached the disk) is removed.
func TestRepairGarbageSegment(t *testing.T) {
	forEachMode(t, func(t *testing.T, opts Options) {
		tl := buildTorn(t, t.TempDir(), opts, 1, 10)
		next := uint64(len(tl.acked) + len(tl.torn) + 1)
		name := segmentName(next)
		if err := os.WriteFile(filepath.Join(tl.dir, name), bytes.Repeat([]byte{0xde, 0xad}, 300), 0o640); err != nil {
			t.Fatal(err)
		}
		l := mustOpen(t, tl.dir, opts)
		checkLog(t, l, 0, slices.Concat(tl.acked, tl.torn))
		if _, err := os.Stat(filepath.Join(tl.dir, name)); !os.IsNotExist(err) {
			t.Fatalf("garbage segment still there: %v", err)
		}
		if len(quarantineFiles(t, tl.dir)) != 1 {
			t.Fatal("garbage segment not quarantined")
		}
	})
}

// TestRepairCrashedTruncate: TruncateAll crashed after tidwall wrote its
// START file but before it removed the old segments. Repair must look at the
// files tidwall will use (the START file), and the log opens empty at the
// right offset.
func TestRepairCrashedTruncate(t *testing.T) {
	opts := testOptions(t)
	tl := buildTorn(t, t.TempDir(), opts, 2, 10)
	next := uint64(len(tl.acked) + len(tl.torn) + 1)
	start := filepath.Join(tl.dir, segmentName(next)+".START")
	if err := os.WriteFile(start, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	l := mustOpen(t, tl.dir, opts)
	checkLog(t, l, int64(next-1), nil)
	checkSegmentsOnDisk(t, l)
	if q := quarantineFiles(t, tl.dir); len(q) != 0 {
		t.Fatalf("quarantined %v", q)
	}
}

// FuzzRepairTail damages the end of a valid log (a torn request spanning two
// segments after twelve acknowledged requests) with random truncation,
// overwrites and appended garbage in one of the files holding the torn
// request. The log always reopens, never loses an acknowledged record, never
// keeps part of the torn request, and keeps all of it when the damage only
// appended bytes after it.
//
// Every iteration opens a log, which fsyncs several times: run it with
// TMPDIR on a tmpfs (TMPDIR=/dev/shm) to get thousands of executions per
// second instead of a few.
func FuzzRepairTail(f *testing.F) {
	opts := DefaultOptions()
	opts.SegmentSize = 1500
	opts.IndexInterval = 4
	opts.NoSync = true // Open and repair still fsync; Append need not
	base := buildTorn(f, f.TempDir(), opts, 4, 300)
	var files [][]byte
	for i := range base.files {
		data, err := os.ReadFile(base.path(i))
		if err != nil {
			f.Fatal(err)
		}
		files = append(files, data)
	}
	if last := len(files) - 1; base.tornFile >= last || base.tornStart == 0 || len(files[last]) == 0 {
		f.Fatalf("setup: the torn request must start inside one segment and end in the next")
	}
	f.Add(uint8(0), uint16(0), uint16(0), []byte{}, true)
	f.Add(uint8(1), uint16(100), uint16(50), []byte{0, 0, 0, 0}, false)
	f.Add(uint8(0), uint16(3), uint16(0), []byte{0x85, 0x01, 0x01}, false)
	f.Add(uint8(1), uint16(0xffff), uint16(0xffff), bytes.Repeat([]byte{0}, 64), true)
	f.Add(uint8(0), uint16(400), uint16(333), []byte{0xff}, false)
	f.Fuzz(func(t *testing.T, file uint8, trunc, at uint16, garbage []byte, appendOnly bool) {
		dir := t.TempDir()
		target := base.tornFile + int(file)%(len(files)-base.tornFile)
		if appendOnly {
			target = len(files) - 1
		}
		for i, data := range files {
			if i == target {
				from := 0
				if i == base.tornFile {
					from = int(base.tornStart)
				}
				data = damage(data, from, int(trunc), int(at), garbage, appendOnly)
			}
			if err := os.WriteFile(filepath.Join(dir, base.files[i]), data, 0o640); err != nil {
				t.Fatal(err)
			}
		}
		l, err := Open(dir, opts)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer l.Close()
		next, acked := l.NextOffset(), int64(len(base.acked))
		if next < acked || (next > acked && next < acked+int64(len(base.torn))) || (appendOnly && next == acked) {
			t.Fatalf("NextOffset %d with %d acked + %d torn (appendOnly %v)", next, acked, len(base.torn), appendOnly)
		}
		es, err := l.Fetch(0, 1000, 1<<30)
		if err != nil || int64(len(es)) != next {
			t.Fatalf("Fetch: %d entries, %v", len(es), err)
		}
		want := slices.Concat(base.acked, base.torn)
		for i := range min(len(es), len(want)) {
			if !sameRecord(es[i].Record, want[i]) {
				t.Fatalf("offset %d changed", i)
			}
		}
		if _, err := l.Append(request(0, 1, 9999, 1)); err != nil {
			t.Fatalf("Append after repair: %v", err)
		}
	})
}

// damage applies one fuzzed change to the tail bytes data[from:].
func damage(data []byte, from, trunc, at int, garbage []byte, appendOnly bool) []byte {
	data = slices.Clone(data)
	if appendOnly {
		return append(data, garbage...)
	}
	data = data[:from+trunc%(len(data)-from+1)]
	pos := from + at%(len(data)-from+1)
	for i, g := range garbage {
		if pos+i < len(data) {
			data[pos+i] = g
		} else {
			data = append(data, g)
		}
	}
	return data
}
