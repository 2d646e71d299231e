package wal

import (
	"errors"
	"os"
	"slices"
	"testing"
)

// TestWriteCommitPipelined writes each batch while the previous one is not
// yet committed, across many segment rolls, and checks that readers only
// ever see committed records, that offsets are assigned at Write, and that
// everything is there, in order, after a reopen.
func TestWriteCommitPipelined(t *testing.T) {
	forEachMode(t, func(t *testing.T, opts Options) {
		dir := t.TempDir()
		l := mustOpen(t, dir, opts)
		var all []Record
		var prev Pending
		prevEnd := int64(0)
		for i := 0; i < 60; i++ {
			req := request(len(all), 1+i%4, int64(100+i), 200)
			first, p, err := l.Write(req)
			if err != nil {
				t.Fatalf("Write %d: %v", i, err)
			}
			if first != int64(len(all)) {
				t.Fatalf("Write %d: first offset %d, want %d", i, first, len(all))
			}
			all = append(all, req...)
			// Readers still see only what was committed before this write.
			if got := l.NextOffset(); got != prevEnd {
				t.Fatalf("after Write %d: NextOffset %d, want the committed end %d", i, got, prevEnd)
			}
			if es, err := l.Fetch(prevEnd, 100, 0); err != nil || len(es) != 0 {
				t.Fatalf("after Write %d: Fetch(%d) = %d entries, %v; want none yet", i, prevEnd, len(es), err)
			}
			if _, err := l.Read(first); !errors.Is(err, ErrOutOfRange) {
				t.Fatalf("Read of uncommitted offset %d: %v, want ErrOutOfRange", first, err)
			}
			if err := l.Commit(prev); err != nil {
				t.Fatalf("Commit %d: %v", i-1, err)
			}
			prevEnd, prev = first, p
			if got := l.NextOffset(); got != prevEnd {
				t.Fatalf("after Commit %d: NextOffset %d, want %d", i-1, got, prevEnd)
			}
		}
		if err := l.Commit(prev); err != nil {
			t.Fatalf("last Commit: %v", err)
		}
		if len(l.segs) < 5 {
			t.Fatalf("only %d segments: the test must cross segment rolls", len(l.segs))
		}
		checkLog(t, l, 0, all)
		checkSegmentsOnDisk(t, l)
		l.cmu.Lock()
		open := len(l.retired)
		l.cmu.Unlock()
		if open != 0 {
			t.Fatalf("%d retired tail descriptors still open after every commit", open)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		checkLog(t, mustOpen(t, dir, opts), 0, all)
	})
}

// TestCommitFailurePoisonsLaterCommits: once a sync fails, no later Commit
// reports success, even one whose own sync would pass (the failed sync may
// have lost the other write's data, and the error is reported only once).
func TestCommitFailurePoisonsLaterCommits(t *testing.T) {
	forEachMode(t, func(t *testing.T, opts Options) {
		l := mustOpen(t, t.TempDir(), opts)
		mustAppend(t, l, request(0, 2, 100, 30))
		_, a, err := l.Write(request(2, 2, 101, 30))
		if err != nil {
			t.Fatal(err)
		}
		_, b, err := l.Write(request(4, 2, 102, 30))
		if err != nil {
			t.Fatal(err)
		}
		l.opts.Faults = &Faults{}
		l.opts.Faults.FailSyncs(1)
		if err := l.Commit(a); !errors.Is(err, ErrPoisoned) {
			t.Fatalf("Commit with failing sync: %v, want ErrPoisoned", err)
		}
		if err := l.Commit(b); !errors.Is(err, ErrPoisoned) {
			t.Fatalf("Commit after a failed one: %v, want ErrPoisoned", err)
		}
		if durable := l.durable.Load(); durable != 3 {
			t.Fatalf("durable index %d after failed commits, want 3 (the first two records)", durable)
		}
	})
}

// TestTruncateBetweenWriteAndCommit: a truncation that removes a written but
// uncommitted batch leaves a consistent, empty log; the Commit then
// succeeds on the removed range and offsets stay monotonic.
func TestTruncateBetweenWriteAndCommit(t *testing.T) {
	forEachMode(t, func(t *testing.T, opts Options) {
		dir := t.TempDir()
		l := mustOpen(t, dir, opts)
		mustAppend(t, l, request(0, 3, 100, 30))
		_, p, err := l.Write(request(3, 2, 101, 30))
		if err != nil {
			t.Fatal(err)
		}
		if err := l.TruncateAll(); err != nil {
			t.Fatal(err)
		}
		checkLog(t, l, 5, nil)
		if err := l.Commit(p); err != nil {
			t.Fatalf("Commit after truncation: %v", err)
		}
		checkLog(t, l, 5, nil)
		more := request(5, 2, 102, 30)
		if first := mustAppend(t, l, more); first != 5 {
			t.Fatalf("append after truncation at %d, want 5", first)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		checkLog(t, mustOpen(t, dir, opts), 5, more)
	})
}

// TestCommitAfterClose is refused cleanly.
func TestCommitAfterClose(t *testing.T) {
	forEachMode(t, func(t *testing.T, opts Options) {
		l := mustOpen(t, t.TempDir(), opts)
		_, p, err := l.Write(request(0, 2, 100, 30))
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if err := l.Commit(p); !errors.Is(err, ErrClosed) {
			t.Fatalf("Commit after Close: %v, want ErrClosed", err)
		}
		if err := l.Commit(Pending{}); err != nil {
			t.Fatalf("Commit of an empty write: %v", err)
		}
	})
}

// TestEmptyWrite returns a Pending that commits without a sync.
func TestEmptyWrite(t *testing.T) {
	l := mustOpen(t, t.TempDir(), testOptions(t))
	mustAppend(t, l, request(0, 2, 100, 30))
	first, p, err := l.Write(nil, []Record{})
	if err != nil || first != 2 || p.tail != nil {
		t.Fatalf("Write of nothing: %d, %+v, %v", first, p, err)
	}
	if err := l.Commit(p); err != nil {
		t.Fatal(err)
	}
	checkLog(t, l, 0, slices.Concat(request(0, 2, 100, 30)))
}

// TestOpenLogDescriptors: an open Log holds two file descriptors, tidwall's
// on the tail segment and ours for syncing it (the time index is opened
// only to append), plus one while sealed segments are being read.
func TestOpenLogDescriptors(t *testing.T) {
	if _, err := os.ReadDir("/proc/self/fd"); err != nil {
		t.Skip("no /proc/self/fd here")
	}
	count := func() int {
		es, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(es)
	}
	opts := testOptions(t)
	before := count()
	l := mustOpen(t, t.TempDir(), opts)
	for i := 0; i < 40; i++ {
		mustAppend(t, l, request(i, 1, int64(100+i), 300)) // several segment rolls
	}
	if got := count() - before; got != 2 {
		t.Fatalf("an open log holds %d descriptors, want 2", got)
	}
	if _, err := l.Fetch(0, 3, 0); err != nil { // from a sealed segment
		t.Fatal(err)
	}
	if got := count() - before; got != 3 {
		t.Fatalf("after a sealed read the log holds %d descriptors, want 3", got)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := count() - before; got != 0 {
		t.Fatalf("a closed log holds %d descriptors", got)
	}
}
