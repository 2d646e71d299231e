package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/weirflow/weir/config"
)

// Pending is a Write whose records are in the segment files but not yet
// durable. Pass it to Commit. The zero Pending (a Write of nothing) commits
// trivially.
type Pending struct {
	tail *tailFile // the tail segment the write ended in
	next uint64    // tidwall index after the write's last record
}

// tailFile is our own descriptor of a tail segment. Commit syncs through it
// instead of through tidwall, whose Sync holds tidwall's lock (and ours)
// for the whole fsync and so would stop the next Write. A sync through any
// descriptor of a file flushes all of that file's dirty data, including
// what tidwall wrote through its own; a write-back error is reported to
// every descriptor that was open when it happened, and to one opened later
// as long as nobody has seen it yet, so no error can slip past.
//
// users counts uncommitted Pendings that will sync through it: a tail that
// is replaced (segment roll, truncation) stays open until they are done.
// Its fields are guarded by Log.cmu.
type tailFile struct {
	f       *os.File
	users   int
	retired bool
}

// openTail opens our descriptor of the segment being written, retiring the
// previous one, and syncs it once: at Open that makes what tidwall found on
// disk durable before readers see it (a process crash leaves unsynced
// writes in the page cache, readable until the machine crashes too).
// Called with mu held.
func (l *Log) openTail() error {
	name := filepath.Join(l.dir, segmentName(l.segs[len(l.segs)-1].start))
	f, err := os.OpenFile(name, os.O_RDWR, filePerms)
	if err != nil {
		return fmt.Errorf("%w: open tail segment: %w", config.ErrStorage, err)
	}
	l.cmu.Lock()
	defer l.cmu.Unlock()
	if l.tail == nil && !l.opts.NoSync {
		if err := datasync(f); err != nil {
			_ = f.Close()
			return fmt.Errorf("%w: sync tail segment: %w", config.ErrStorage, err)
		}
	}
	if old := l.tail; old != nil {
		old.retired = true
		if old.users == 0 {
			_ = old.f.Close() // tidwall synced it when it sealed or replaced it
		} else {
			l.retired = append(l.retired, old)
		}
	}
	l.tail = &tailFile{f: f}
	return nil
}

// release drops one user of t, closing it if it was retired and unused.
// Called with cmu held.
func (l *Log) release(t *tailFile) {
	t.users--
	if t.retired && t.users == 0 {
		_ = t.f.Close()
		l.retired = slices.DeleteFunc(l.retired, func(x *tailFile) bool { return x == t })
	}
}

// closeTails closes every descriptor, for Close.
func (l *Log) closeTails() error {
	l.cmu.Lock()
	defer l.cmu.Unlock()
	l.tailClosed = true
	var errs []error
	for _, t := range l.retired {
		errs = append(errs, t.f.Close())
	}
	l.retired = nil
	if l.tail != nil {
		errs = append(errs, l.tail.f.Close())
		l.tail = nil
	}
	return errors.Join(errs...)
}

// Commit makes the records of the given Pendings durable, with one data
// sync per distinct tail segment among them (usually one; an fdatasync
// where the platform has one: the file's size is synced with its data, its
// times are not). Pass Pendings in Write order; committing several at once
// is how writes made during a sync share the next one. The sync runs
// without holding the Log's lock, so Write can go on meanwhile. When Commit
// returns nil the records of every Pending passed, and of every Pending
// before them, are durable and visible to readers. A failed sync poisons
// the Log; after that every Commit fails, also one whose own sync would
// succeed, because the error is reported once and an earlier write may be
// what was lost.
func (l *Log) Commit(ps ...Pending) error {
	var err error
	var last *tailFile
	var next uint64
	for _, p := range ps {
		if p.tail == nil {
			continue
		}
		if p.tail != last && !l.opts.NoSync && err == nil {
			err = datasync(p.tail.f)
		}
		last, next = p.tail, max(next, p.next)
	}
	if last == nil {
		return nil
	}
	// Not mu: a Write holds it for its whole write, and the point is to
	// let the next Write run while this sync is under way.
	l.cmu.Lock()
	defer l.cmu.Unlock()
	for _, p := range ps {
		if p.tail != nil {
			l.release(p.tail)
		}
	}
	if err == nil {
		err = l.opts.Faults.after(true)
	}
	if l.tailClosed {
		return ErrClosed
	}
	if err != nil && l.syncErr == nil {
		l.syncErr = err
		l.syncFailed.Store(true)
		l.log.Error().Err(err).Str("dir", l.dir).Str("op", "sync").Msg("wal: write failed, log poisoned until reopened")
	}
	if l.syncErr != nil {
		return fmt.Errorf("wal: sync: %w (%w)", ErrPoisoned, l.syncErr)
	}
	for {
		d := l.durable.Load()
		if next <= d || l.durable.CompareAndSwap(d, next) {
			return nil
		}
	}
}
