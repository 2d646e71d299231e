package wal

import (
	"encoding/binary"
	"fmt"
	"maps"
	"os"
	"slices"
	"sync"

	"github.com/rs/zerolog"
	tidwal "github.com/tidwall/wal"

	"github.com/weirflow/weir/config"
)

// OffsetStore is a small durable map (name → offset) for a consumer group's
// committed offsets. Every Save appends one full snapshot to its own tidwall
// log and fsyncs it; Open loads the newest valid snapshot. Old snapshots are
// truncated from the front every offsetCompactEvery saves, so the log stays
// a few snapshots long.
//
// Snapshot layout (version 1):
//
//	off  size  field
//	0    1     version, always 1
//	1    4     CRC32C (Castagnoli) of byte 0 followed by bytes 5..end
//	5    var   entry count: uvarint; then per entry, names strictly
//	           increasing: uvarint len + name, varint (zig-zag) offset
//
// A snapshot is at least 6 bytes, so never an empty tidwall entry. The same
// tail repair as the partition log runs on Open (each snapshot is a complete
// request of its own), and a write or sync failure poisons the store.
type OffsetStore struct {
	mu       sync.Mutex
	dir      string
	log      zerolog.Logger
	tw       *tidwal.Log
	closed   bool
	poisoned error
	current  map[string]int64
	version  uint64 // of the newest snapshot SaveVersion wrote
	first    uint64 // tidwall indexes
	next     uint64
	tailSize int64 // bytes in the segment being written, mirrored as in Log

	syncHook func() error // tests only; see Log.syncHook
}

const (
	offsetSnapshotVersion = 1
	offsetSegmentSize     = 1 << 20
	offsetCompactEvery    = 64
)

// OpenOffsetStore opens (creating if needed) the offset store in dir,
// repairing a torn tail first.
func OpenOffsetStore(dir string, logger zerolog.Logger) (*OffsetStore, error) {
	if err := os.MkdirAll(dir, dirPerms); err != nil {
		return nil, fmt.Errorf("wal: create %s: %w: %w", dir, config.ErrStorage, err)
	}
	if _, err := repairTail(dir, checkSnapshotEntry, logger); err != nil {
		return nil, fmt.Errorf("wal: repair %s: %w: %w", dir, config.ErrStorage, err)
	}
	tw, err := tidwal.Open(dir, &tidwal.Options{
		SegmentSize:      offsetSegmentSize,
		LogFormat:        tidwal.Binary,
		SegmentCacheSize: 1,
		AllowEmpty:       true,
		DirPerms:         dirPerms,
		FilePerms:        filePerms,
	})
	if err != nil {
		return nil, fmt.Errorf("wal: open offset store %s: %w", dir, storageErr(err))
	}
	s := &OffsetStore{dir: dir, log: logger, tw: tw, current: map[string]int64{}}
	if err := s.load(); err != nil {
		_ = tw.Close()
		return nil, fmt.Errorf("wal: open offset store %s: %w", dir, err)
	}
	return s, nil
}

func (s *OffsetStore) load() error {
	first, err := s.tw.FirstIndex()
	if err != nil {
		return storageErr(err)
	}
	last, err := s.tw.LastIndex()
	if err != nil {
		return storageErr(err)
	}
	s.first, s.next = first, last+1
	if err := syncDir(s.dir); err != nil { // tidwall may have created or renamed files
		return err
	}
	segs, err := listSegments(s.dir)
	if err != nil {
		return err
	}
	if len(segs) > 0 {
		s.tailSize = segs[len(segs)-1].size
	}
	// Repair left a valid newest snapshot; walking back only matters if an
	// older, sealed segment was damaged in place.
	for idx := last; idx >= first && idx > 0; idx-- {
		data, err := s.tw.Read(idx)
		if err == nil {
			var snap map[string]int64
			if snap, err = decodeSnapshot(data); err == nil {
				s.current = snap
				return nil
			}
		}
		s.log.Error().Err(err).Str("dir", s.dir).Uint64("index", idx).Msg("wal: unreadable offset snapshot, trying the previous one")
	}
	return nil
}

// Load returns a copy of the newest saved snapshot (empty, not nil, when
// nothing was saved).
func (s *OffsetStore) Load() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.current)
}

// Save durably replaces the stored snapshot: when it returns nil the
// snapshot is fsynced. On error the previous snapshot stays current, and a
// write or sync failure poisons the store (reopen it).
func (s *OffsetStore) Save(snapshot map[string]int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.save(snapshot)
}

// SaveVersion is Save for snapshots taken at increasing versions by one
// owner and saved from several goroutines: a snapshot older than the newest
// one already written (version not above it) is skipped, since the newer
// snapshot, durable by then, holds every change the older one had. Without
// this an older snapshot finishing last would move the offsets back.
// wrote reports whether this call wrote (and fsynced) the snapshot.
func (s *OffsetStore) SaveVersion(version uint64, snapshot map[string]int64) (wrote bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed && s.poisoned == nil && version <= s.version {
		return false, nil
	}
	if err := s.save(snapshot); err != nil {
		return false, err
	}
	s.version = version
	return true, nil
}

func (s *OffsetStore) save(snapshot map[string]int64) error {
	if s.closed {
		return ErrClosed
	}
	if s.poisoned != nil {
		return fmt.Errorf("%w (%w)", ErrPoisoned, s.poisoned)
	}
	data := encodeSnapshot(snapshot)
	err := s.tw.Write(s.next, data)
	if err == nil && s.syncHook != nil {
		err = s.syncHook()
	}
	if err != nil {
		return s.poison("save offsets", err)
	}
	s.next++
	s.current = maps.Clone(snapshot)
	if s.current == nil {
		s.current = map[string]int64{}
	}
	// Mirror tidwall's roll (see Log.afterWrite): a new segment file must
	// have its directory entry synced before the next snapshot lands in it.
	s.tailSize += int64(uvarintLen(uint64(len(data))) + len(data))
	if s.tailSize >= offsetSegmentSize {
		s.tailSize = 0
		if err := syncDir(s.dir); err != nil {
			return s.poison("save offsets: sync directory", err)
		}
	}
	if s.next-s.first > offsetCompactEvery {
		return s.compact()
	}
	return nil
}

// compact removes every snapshot but the newest. TruncateFront rewrites the
// segment holding it, so the segment shrinks back to one snapshot.
func (s *OffsetStore) compact() error {
	keep := s.next - 1
	if err := s.tw.TruncateFront(keep); err != nil {
		return s.poison("compact offsets", err)
	}
	s.first = keep
	if err := syncDir(s.dir); err != nil {
		return s.poison("compact offsets: sync directory", err)
	}
	segs, err := listSegments(s.dir)
	if err != nil {
		return s.poison("compact offsets", err)
	}
	s.tailSize = 0
	if len(segs) > 0 {
		s.tailSize = segs[len(segs)-1].size
	}
	return nil
}

func (s *OffsetStore) poison(op string, err error) error {
	if s.poisoned == nil {
		s.poisoned = err
		s.log.Error().Err(err).Str("dir", s.dir).Str("op", op).Msg("wal: offset store write failed, poisoned until reopened")
	}
	return fmt.Errorf("wal: %s: %w (%w)", op, ErrPoisoned, err)
}

// Close closes the store; later calls return ErrClosed.
func (s *OffsetStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.closed = true
	if err := s.tw.Close(); err != nil && s.poisoned == nil {
		return fmt.Errorf("wal: close %s: %w: %w", s.dir, config.ErrStorage, err)
	}
	return nil
}

// checkSnapshotEntry is the entryChecker of the offset store: every valid
// snapshot is a complete request of its own.
func checkSnapshotEntry(data []byte, off uint64) (uint64, bool, bool) {
	_, err := decodeSnapshot(data)
	return off, true, err == nil
}

func encodeSnapshot(snap map[string]int64) []byte {
	names := slices.Sorted(maps.Keys(snap))
	b := []byte{offsetSnapshotVersion, 0, 0, 0, 0}
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, name := range names {
		b = binary.AppendUvarint(b, uint64(len(name)))
		b = append(b, name...)
		b = binary.AppendVarint(b, snap[name])
	}
	binary.LittleEndian.PutUint32(b[1:], recordCRC(b))
	return b
}

func decodeSnapshot(b []byte) (map[string]int64, error) {
	if len(b) < 6 || b[0] != offsetSnapshotVersion {
		return nil, fmt.Errorf("%w: bad offset snapshot header", ErrCorrupt)
	}
	if recordCRC(b) != binary.LittleEndian.Uint32(b[1:]) {
		return nil, fmt.Errorf("%w: offset snapshot checksum mismatch", ErrCorrupt)
	}
	count, n, err := readUvarint(b, 5)
	if err != nil {
		return nil, err
	}
	pos := 5 + n
	if count > uint64(len(b)-pos)/2 {
		return nil, fmt.Errorf("%w: offset snapshot count %d exceeds its size", ErrCorrupt, count)
	}
	snap := make(map[string]int64, count)
	var prev string
	for i := uint64(0); i < count; i++ {
		var name []byte
		if name, pos, err = readBytes(b, pos); err != nil {
			return nil, err
		}
		if i > 0 && string(name) <= prev {
			return nil, fmt.Errorf("%w: offset snapshot names out of order", ErrCorrupt)
		}
		v, n := binary.Varint(b[pos:])
		if n <= 0 {
			return nil, fmt.Errorf("%w: bad offset in snapshot", ErrCorrupt)
		}
		pos += n
		prev = string(name)
		snap[prev] = v
	}
	if pos != len(b) {
		return nil, fmt.Errorf("%w: %d trailing bytes in offset snapshot", ErrCorrupt, len(b)-pos)
	}
	return snap, nil
}
