package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/rs/zerolog"
)

// Tail repair. tidwall/wal refuses to open a log whose last segment ends in a
// partial entry, and reads zero-filled bytes back as valid empty entries. A
// crash can leave either, or half of a request. So before tidwall opens the
// directory we walk back from the end of the log to the last valid record
// that ends a complete request and cut everything after it.
//
// tidwall's binary segment format (v1.2.1, wal.go appendBinaryEntry and
// loadNextBinaryEntry): a segment file is named by the 20-digit index of its
// first entry and holds entries back to back, each a uvarint length followed
// by that many bytes; there is no header, footer or checksum. A crashed
// TruncateFront leaves a NNN.START file that replaces every segment before
// it (and TruncateBack an NNN.END file that replaces everything after it),
// which tidwall resolves when it opens; repair looks at the same effective
// list of files.
//
// The cut bytes are never simply dropped: they are copied to
// quarantine-<unix nanos>.bin in the log directory and fsynced before any
// segment is touched, and the cut is logged, so an operator can inspect what
// was removed.

// entryChecker validates one tidwall entry found at 0-based offset off and
// returns its request sequence (the offset of its request's first record)
// and whether it is the last record of its request. ok false means the entry
// is damage: it and everything after it are cut.
type entryChecker func(data []byte, off uint64) (seq uint64, last, ok bool)

// checkLogEntry is the entryChecker of the partition log.
func checkLogEntry(data []byte, off uint64) (uint64, bool, bool) {
	_, m, err := decodeRecordView(data) // validation only: nothing is kept
	if err != nil {
		return 0, false, false
	}
	return m.Seq, m.Last, m.Seq <= off
}

// repairReport describes one repair; nil means nothing was cut.
type repairReport struct {
	Quarantine string // path of the quarantine file
	Segment    string // segment file that was shortened
	CutAt      int64  // its new length
	CutBytes   int64  // bytes moved to the quarantine file
	CutEntries int    // well-formed entries among them (incomplete requests)
	Removed    []string
}

// segFile is one file of the effective segment list.
type segFile struct {
	path  string
	start uint64 // tidwall index of its first entry
}

// effectiveSegments lists the segment files tidwall would use, resolving
// START/END leftovers the way tidwall's load does. ok is false when the
// directory holds both (tidwall then reports it corrupt; repair stays out).
func effectiveSegments(dir string) (files []segFile, ok bool, err error) {
	des, err := os.ReadDir(dir) // sorted by name, as tidwall's ioutil.ReadDir
	if err != nil {
		return nil, false, err
	}
	startAt, endAt := -1, -1
	for _, de := range des {
		idx, suffix, valid := parseSegmentName(de.Name())
		if !valid || de.IsDir() {
			continue
		}
		switch {
		case suffix == ".START":
			startAt = len(files)
		case suffix == ".END" && endAt == -1:
			endAt = len(files)
		}
		files = append(files, segFile{path: filepath.Join(dir, de.Name()), start: idx})
	}
	switch {
	case startAt >= 0 && endAt >= 0:
		return nil, false, nil
	case startAt >= 0:
		files = files[startAt:]
	case endAt >= 0:
		files = files[:endAt+1]
		if n := len(files); n > 1 && files[n-2].start == files[n-1].start {
			files = append(files[:n-2], files[n-1])
		}
	}
	return files, true, nil
}

// scanResult is what scanSegment found in one file.
type scanResult struct {
	validEnd int64   // bytes of the valid prefix
	entries  []int64 // start of each valid entry
	reqEnds  []int64 // end of each valid entry that ends a request
}

// lastReqEnd returns the end of the last request that ends at or before
// limit, or -1.
func (r scanResult) lastReqEnd(limit int64) int64 {
	i := sort.Search(len(r.reqEnds), func(i int) bool { return r.reqEnds[i] > limit })
	if i == 0 {
		return -1
	}
	return r.reqEnds[i-1]
}

// scanSegment walks the entries of one segment file starting at tidwall
// index start, up to the first damaged one. Besides the checker, it enforces
// the sequence rules that tie records to requests: after a request's last
// record the next record starts a new request (seq == its own offset);
// inside a request seq stays the same.
func scanSegment(data []byte, start uint64, check entryChecker) scanResult {
	var res scanResult
	var pos int64
	var prevSeq uint64
	prevLast, havePrev := false, false
	for off := start - 1; pos < int64(len(data)); off++ {
		size, n := binary.Uvarint(data[pos:])
		if n <= 0 || size > uint64(int64(len(data))-pos-int64(n)) {
			break // torn framing
		}
		entry := data[pos+int64(n) : pos+int64(n)+int64(size)]
		seq, last, ok := check(entry, off)
		if ok && havePrev {
			if prevLast {
				ok = seq == off
			} else {
				ok = seq == prevSeq
			}
		}
		if !ok {
			break
		}
		res.entries = append(res.entries, pos)
		pos += int64(n) + int64(size)
		prevSeq, prevLast, havePrev = seq, last, true
		if last {
			res.reqEnds = append(res.reqEnds, pos)
		}
	}
	res.validEnd = pos
	return res
}

// repairTail cuts the log in dir back to its last complete request before
// any damage; see the comment at the top of this file. It returns nil when
// nothing was cut.
//
// Damage is looked for in the last two files: tidwall fsyncs a segment
// before it creates the next one, so a crash can only tear the last file,
// but checking that the one before is whole and holds exactly the entries
// its successor's name implies costs one segment read and turns a damaged
// sealed tail into a clean cut instead of an unreadable segment. Older
// segments are checked by every read.
func repairTail(dir string, check entryChecker, logger zerolog.Logger) (*repairReport, error) {
	files, ok, err := effectiveSegments(dir)
	if err != nil || !ok || len(files) == 0 {
		return nil, err
	}
	datas := make([][]byte, len(files))
	scans := make([]*scanResult, len(files))
	scan := func(i int) (*scanResult, error) {
		if scans[i] == nil {
			data, err := os.ReadFile(files[i].path)
			if err != nil {
				return nil, err
			}
			r := scanSegment(data, files[i].start, check)
			datas[i], scans[i] = data, &r
		}
		return scans[i], nil
	}
	// Find where damage starts: the first invalid byte, or the first entry
	// beyond (or the end of a file short of) what the next file's name says.
	damFile, damAt := len(files)-1, int64(-1)
	for i := max(0, len(files)-2); i < len(files); i++ {
		r, err := scan(i)
		if err != nil {
			return nil, err
		}
		at := int64(-1)
		if r.validEnd < int64(len(datas[i])) {
			at = r.validEnd
		}
		if i+1 < len(files) {
			want := files[i+1].start - files[i].start
			switch n := uint64(len(r.entries)); {
			case n > want:
				at = r.entries[want]
			case n < want:
				at = r.validEnd
			}
		}
		if at >= 0 {
			damFile, damAt = i, at
			break
		}
	}
	if damAt < 0 {
		damAt = int64(len(datas[damFile]))
	}
	// Walk back to the last request that ends before the damage. Every
	// byte after it is cut.
	keepFile, keepAt := 0, int64(0)
	for i := damFile; i >= 0; i-- {
		r, err := scan(i)
		if err != nil {
			return nil, err
		}
		limit := r.validEnd
		if i == damFile {
			limit = min(limit, damAt)
		}
		if end := r.lastReqEnd(limit); end >= 0 {
			keepFile, keepAt = i, end
			break
		}
	}
	var cut []byte
	cutEntries := 0
	for i := keepFile; i < len(files); i++ {
		if _, err := scan(i); err != nil {
			return nil, err
		}
		d, r := datas[i], scans[i]
		if i == keepFile {
			d = d[keepAt:]
			cutEntries += len(r.entries) - sort.Search(len(r.entries), func(j int) bool { return r.entries[j] >= keepAt })
		} else {
			cutEntries += len(r.entries)
		}
		cut = append(cut, d...)
	}
	if len(cut) == 0 {
		// Nothing but empty files after the cut point: an empty tail segment
		// right after a roll is a normal state for tidwall.
		return nil, nil
	}
	rep := &repairReport{
		Quarantine: filepath.Join(dir, "quarantine-"+strconv.FormatInt(time.Now().UnixNano(), 10)+".bin"),
		Segment:    filepath.Base(files[keepFile].path),
		CutAt:      keepAt,
		CutBytes:   int64(len(cut)),
		CutEntries: cutEntries,
	}
	// Quarantine first and make it durable: if we crash while cutting, the
	// bytes are already safe and the next open repeats the cut.
	if err := writeFileSync(rep.Quarantine, cut); err != nil {
		return nil, err
	}
	if err := syncDir(dir); err != nil {
		return nil, err
	}
	// Remove whole files newest first, so that at any moment the files left
	// are a prefix of the log.
	for i := len(files) - 1; i > keepFile; i-- {
		if err := os.Remove(files[i].path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		rep.Removed = append(rep.Removed, filepath.Base(files[i].path))
	}
	if err := truncateSync(files[keepFile].path, keepAt); err != nil {
		return nil, err
	}
	if err := syncDir(dir); err != nil {
		return nil, err
	}
	logger.Warn().
		Str("dir", dir).
		Str("quarantine", rep.Quarantine).
		Str("segment", rep.Segment).
		Int64("cut_at", rep.CutAt).
		Int64("cut_bytes", rep.CutBytes).
		Int("cut_entries", rep.CutEntries).
		Strs("removed_segments", rep.Removed).
		Msg("wal: repaired damaged or incomplete log tail; cut bytes quarantined")
	return rep, nil
}

// truncateSync shortens the file at path to size and fsyncs it.
func truncateSync(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, filePerms)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("truncate %s: %w", path, err)
	}
	return nil
}
