package actors

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// dirLock is an exclusive flock on <data_dir>/LOCK. It keeps two weir
// processes (or two Engines in one process) from writing the same logs,
// which tidwall/wal would silently corrupt.
type dirLock struct {
	f *os.File
}

// lockDataDir creates dir if needed, proves it is writable and takes the
// lock without waiting.
func lockDataDir(dir string) (*dirLock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("data directory %s cannot be created: %w", dir, err)
	}
	// Probe writability with a real file: MkdirAll succeeds on an existing
	// read-only directory, and opening LOCK may succeed if it already exists.
	probe, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return nil, fmt.Errorf("data directory %s is not writable: %w", dir, err)
	}
	probe.Close()
	os.Remove(probe.Name())

	path := filepath.Join(dir, "LOCK")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("data directory %s: cannot open lock file: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("data directory %s is locked by another weir process (or engine): %w", dir, err)
		}
		return nil, fmt.Errorf("data directory %s: cannot lock: %w", dir, err)
	}
	// Record the holder for humans looking at the directory; the flock is
	// what counts, so a failure here is harmless.
	_ = f.Truncate(0)
	_, _ = fmt.Fprintf(f, "%d\n", os.Getpid())
	return &dirLock{f: f}, nil
}

func (l *dirLock) unlock() {
	if l == nil || l.f == nil {
		return
	}
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
	l.f = nil
}
