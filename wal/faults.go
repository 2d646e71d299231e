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
	failSyncs int
	synced    int
}

// ErrInjected is what an injected failure returns.
var ErrInjected = errors.New("wal: injected fault: fdatasync: input/output error")

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

// sync is called after each Commit sync.
func (f *Faults) sync() error {
	if f == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.synced++
	if f.failSyncs > 0 {
		f.failSyncs--
		return ErrInjected
	}
	return nil
}
