package actors

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// streamsDir holds the durable set of streams and resources.
const (
	streamsDir       = "streams"
	streamsStateFile = "state.json"
	streamsStateVer  = 1
)

// storedStream is one stream as persisted: its id, its config text after env
// substitution, and whether it was accepted chilled.
type storedStream struct {
	ID      string `json:"id"`
	Config  string `json:"config"`
	Chilled bool   `json:"chilled,omitempty"`
}

// storedResource is one shared resource as persisted.
type storedResource struct {
	Kind    string `json:"kind"`
	ID      string `json:"id"`
	Config  string `json:"config"`
	Chilled bool   `json:"chilled,omitempty"`
}

type streamsState struct {
	Version   int              `json:"version"`
	Resources []storedResource `json:"resources"`
	Streams   []storedStream   `json:"streams"`
}

// streamsStore persists the whole state in one file, replaced atomically:
// write a temp file, fsync it, rename it over the old one, fsync the
// directory. A crash leaves either the old or the new file, never a mix, and
// ids never become file names.
type streamsStore struct {
	dir string
}

func openStreamsStore(dataDir string) (*streamsStore, error) {
	dir := filepath.Join(dataDir, streamsDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return &streamsStore{dir: dir}, nil
}

func (s *streamsStore) load() (streamsState, error) {
	var st streamsState
	b, err := os.ReadFile(filepath.Join(s.dir, streamsStateFile))
	if errors.Is(err, os.ErrNotExist) {
		return streamsState{Version: streamsStateVer}, nil
	}
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("%s: %w", filepath.Join(s.dir, streamsStateFile), err)
	}
	if st.Version != streamsStateVer {
		return st, fmt.Errorf("%s: unsupported version %d", filepath.Join(s.dir, streamsStateFile), st.Version)
	}
	return st, nil
}

func (s *streamsStore) save(st streamsState) error {
	st.Version = streamsStateVer
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	// Atomic and durable: a crash leaves the old set or the new one.
	return writeFileAtomic(s.dir, streamsStateFile, b)
}
