package wal

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"github.com/weirflow/weir/config"
)

func mustOpenStore(t *testing.T, dir string) *OffsetStore {
	t.Helper()
	s, err := OpenOffsetStore(dir, zerolog.New(zerolog.NewTestWriter(t)))
	if err != nil {
		t.Fatalf("OpenOffsetStore: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestOffsetStoreSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s := mustOpenStore(t, dir)
	if got := s.Load(); got == nil || len(got) != 0 {
		t.Fatalf("new store Load = %v, want empty map", got)
	}
	snap := map[string]int64{"orders/0": 10, "orders/1": 0, "big": 1 << 60, "neg": -1}
	if err := s.Save(snap); err != nil {
		t.Fatal(err)
	}
	snap["orders/0"] = 99 // the store keeps its own copy
	got := s.Load()
	if got["orders/0"] != 10 {
		t.Fatalf("Save kept a reference to the caller's map: %v", got)
	}
	got["x"] = 1 // and Load hands out copies
	if _, ok := s.Load()["x"]; ok {
		t.Fatal("Load returned the internal map")
	}
	if err := s.Save(snap); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(snap); !errors.Is(err, ErrClosed) {
		t.Fatalf("Save after Close: %v", err)
	}
	s = mustOpenStore(t, dir)
	if got := s.Load(); !maps.Equal(got, snap) {
		t.Fatalf("after reopen Load = %v, want %v", got, snap)
	}
	if err := s.Save(nil); err != nil {
		t.Fatal(err)
	}
	if got := s.Load(); got == nil || len(got) != 0 {
		t.Fatalf("after Save(nil) Load = %v", got)
	}
}

// TestOffsetStoreCompacts: hundreds of saves keep only a few snapshots on
// disk and the newest one wins after reopen.
func TestOffsetStoreCompacts(t *testing.T) {
	dir := t.TempDir()
	s := mustOpenStore(t, dir)
	var last map[string]int64
	for i := 0; i < 300; i++ {
		last = map[string]int64{"a": int64(i), fmt.Sprintf("p-%d", i%7): int64(i * 2)}
		if err := s.Save(last); err != nil {
			t.Fatal(err)
		}
	}
	if s.next-s.first > offsetCompactEvery+1 {
		t.Fatalf("%d snapshots kept", s.next-s.first)
	}
	segs, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	var size int64
	for _, seg := range segs {
		size += seg.size
	}
	if size > 64*(offsetCompactEvery+1) {
		t.Fatalf("%d bytes on disk for small snapshots", size)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpenStore(t, dir)
	if got := s.Load(); !maps.Equal(got, last) {
		t.Fatalf("Load = %v, want %v", got, last)
	}
}

// TestOffsetStoreTornTail: a snapshot torn by a crash is cut on open and the
// previous (acknowledged) snapshot is loaded.
func TestOffsetStoreTornTail(t *testing.T) {
	for _, cut := range []int{1, 5, 12} {
		t.Run(fmt.Sprint(cut), func(t *testing.T) {
			dir := t.TempDir()
			s := mustOpenStore(t, dir)
			acked := map[string]int64{"a": 1, "b": 2}
			if err := s.Save(acked); err != nil {
				t.Fatal(err)
			}
			if err := s.Save(map[string]int64{"a": 100, "b": 200, "c": 300}); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			segs, _ := listSegments(dir)
			path := filepath.Join(dir, segmentName(segs[len(segs)-1].start))
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			truncateFile(t, path, fi.Size()-int64(cut))

			s = mustOpenStore(t, dir)
			if got := s.Load(); !maps.Equal(got, acked) {
				t.Fatalf("Load = %v, want %v", got, acked)
			}
			if len(quarantineFiles(t, dir)) != 1 {
				t.Fatal("torn snapshot not quarantined")
			}
			next := map[string]int64{"z": 5}
			if err := s.Save(next); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = mustOpenStore(t, dir)
			if got := s.Load(); !maps.Equal(got, next) {
				t.Fatalf("Load = %v, want %v", got, next)
			}
		})
	}
}

func TestOffsetStorePoisoned(t *testing.T) {
	dir := t.TempDir()
	s := mustOpenStore(t, dir)
	acked := map[string]int64{"a": 1}
	if err := s.Save(acked); err != nil {
		t.Fatal(err)
	}
	s.syncHook, _ = failOnce()
	if err := s.Save(map[string]int64{"a": 2}); !errors.Is(err, ErrPoisoned) || !errors.Is(err, config.ErrStorage) {
		t.Fatalf("Save with failing sync: %v", err)
	}
	if got := s.Load(); !maps.Equal(got, acked) {
		t.Fatalf("failed Save changed Load: %v", got)
	}
	if err := s.Save(acked); !errors.Is(err, ErrPoisoned) {
		t.Fatalf("Save after poison: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpenStore(t, dir)
	if err := s.Save(map[string]int64{"a": 3}); err != nil {
		t.Fatalf("Save after reopen: %v", err)
	}
}

func TestDecodeSnapshotRejects(t *testing.T) {
	valid := encodeSnapshot(map[string]int64{"a": 1, "b": -2})
	if got, err := decodeSnapshot(valid); err != nil || got["b"] != -2 {
		t.Fatalf("decode valid: %v %v", got, err)
	}
	for name, b := range map[string][]byte{
		"empty":    nil,
		"zeros":    make([]byte, 10),
		"short":    valid[:5],
		"flipped":  append(valid[:len(valid)-1:len(valid)-1], valid[len(valid)-1]^1),
		"trailing": resealSnapshot(append(valid[:len(valid):len(valid)], 0)),
	} {
		if _, err := decodeSnapshot(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}

func resealSnapshot(b []byte) []byte {
	c := recordCRC(b)
	b[1], b[2], b[3], b[4] = byte(c), byte(c>>8), byte(c>>16), byte(c>>24)
	return b
}

// SaveVersion never lets an older snapshot replace a newer one, on disk
// either: the group's background saves may finish out of order with its
// synchronous ones.
func TestOffsetStoreSaveVersionSkipsOlder(t *testing.T) {
	dir := t.TempDir()
	s := mustOpenStore(t, dir)
	for _, c := range []struct {
		ver   uint64
		off   int64
		wrote bool
	}{{2, 20, true}, {1, 10, false}, {2, 15, false}, {3, 30, true}} {
		wrote, err := s.SaveVersion(c.ver, map[string]int64{"t/0": c.off})
		if err != nil || wrote != c.wrote {
			t.Fatalf("SaveVersion(%d) = %v, %v; want wrote %v", c.ver, wrote, err, c.wrote)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpenStore(t, dir)
	if got := s.Load()["t/0"]; got != 30 {
		t.Fatalf("reopened offset %d, want 30", got)
	}
}
