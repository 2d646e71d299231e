package wal

import (
	"errors"
	"sync"
)

// Faults injects storage failures into the Logs whose Options carry it, for
// tests of code built on wal: a failing disk cannot be had on demand, and
// the paths that handle one (never acknowledge, poison, reopen and repair)
// must still be exercised through the real code. Production code leaves
// Options.Faults nil.
type Faults struct {
	mu        sync.Mutex
	failNext  int // any operation: write, sync, truncate, Commit sync
	failSyncs int // Commit syncs only
	synced    int
}

// ErrInjected is what an injected failure returns.
var ErrInjected = errors.New("wal: injected fault: fdatasync: input/output error")

// FailNext makes the next n storage operations fail, whatever they are: a
// tidwall write (Write, Append), a tidwall sync (Sync), a truncation, or a
// Commit sync. Each fails after the real operation ran, as an error the
// device reported would.
func (f *Faults) FailNext(n int) {
	f.mu.Lock()
	f.failNext = n
	f.mu.Unlock()
}

// FailSyncs makes the next n Commit syncs fail (after the real sync ran, as
// a device error reported by the sync would).
func (f *Faults) FailSyncs(n int) {
	f.mu.Lock()
	f.failSyncs = n
	f.mu.Unlock()
}

// Syncs is how many Commit syncs have run so far.
func (f *Faults) Syncs() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.synced
}

// after is called after each storage operation that succeeded; commit
// says whether it was a Commit sync. A non-nil error is to be treated as
// that operation's.
func (f *Faults) after(commit bool) error {
	if f == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if commit {
		f.synced++
		if f.failSyncs > 0 {
			f.failSyncs--
			return ErrInjected
		}
	}
	if f.failNext > 0 {
		f.failNext--
		return ErrInjected
	}
	return nil
}
