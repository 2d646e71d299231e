package wal

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
)

// The record envelope. tidwall/wal stores opaque entries without a checksum
// and happily reads zero bytes back as valid empty entries, so every entry we
// write is this self-checking envelope and every read validates it.
//
// Byte layout (version 1; all fixed-width integers little-endian, "uvarint"
// is encoding/binary's unsigned varint in its shortest form):
//
//	off  size  field
//	0    1     version, always 1
//	1    4     CRC32C (Castagnoli) of byte 0 followed by bytes 5..end
//	5    1     flags: bit 0 = last record of its request; other bits are 0
//	6    8     timestamp: int64 microseconds since the epoch (append time)
//	14   var   request sequence: uvarint, the offset of the first record of
//	           the request this record belongs to (so it is unique per request
//	           and never larger than the record's own offset)
//	     var   header count: uvarint; then per header, in strictly increasing
//	           byte order of names: uvarint len + name, uvarint len + value
//	     var   key: uvarint len + bytes
//	     rest  body (may be empty)
//
// The smallest record is 17 bytes, so an envelope is never empty. Decoding is
// strict: a record decodes only if encoding the result gives back the same
// bytes (shortest varints, sorted unique header names, known flag bits), which
// is what FuzzDecodeRecord checks.
const (
	recordVersion    = 1
	recordFixedLen   = 14 // version + crc + flags + timestamp
	recordMinLen     = recordFixedLen + 3
	flagLastOfReq    = 1 << 0
	knownRecordFlags = flagLastOfReq
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// recordMeta is the part of an envelope that repair and the time index need
// without materialising headers, key and body.
type recordMeta struct {
	Timestamp int64
	Seq       uint64 // offset of the first record of the request
	Last      bool   // last record of its request
}

// appendRecord appends the envelope of r to dst and returns the extended
// slice. seq is the request sequence (offset of the request's first record).
func appendRecord(dst []byte, r *Record, seq uint64, last bool) []byte {
	start := len(dst)
	var flags byte
	if last {
		flags |= flagLastOfReq
	}
	dst = append(dst, recordVersion, 0, 0, 0, 0, flags)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(r.Timestamp))
	dst = binary.AppendUvarint(dst, seq)
	dst = binary.AppendUvarint(dst, uint64(len(r.Headers)))
	if len(r.Headers) > 0 {
		names := make([]string, 0, len(r.Headers))
		for k := range r.Headers {
			names = append(names, k)
		}
		slices.Sort(names) // deterministic bytes: the decoder insists on it
		for _, k := range names {
			v := r.Headers[k]
			dst = binary.AppendUvarint(dst, uint64(len(k)))
			dst = append(dst, k...)
			dst = binary.AppendUvarint(dst, uint64(len(v)))
			dst = append(dst, v...)
		}
	}
	dst = binary.AppendUvarint(dst, uint64(len(r.Key)))
	dst = append(dst, r.Key...)
	dst = append(dst, r.Body...)
	binary.LittleEndian.PutUint32(dst[start+1:], recordCRC(dst[start:]))
	return dst
}

// recordCRC is the checksum of an encoded record: the version byte and
// everything after the CRC field, so a flipped version byte is caught too.
func recordCRC(b []byte) uint32 {
	c := crc32.Update(0, castagnoli, b[:1])
	return crc32.Update(c, castagnoli, b[5:])
}

// decodeMeta validates the whole envelope (length, version, checksum, flags)
// and returns its fixed fields and the position where the headers start.
func decodeMeta(b []byte) (m recordMeta, rest int, err error) {
	if len(b) < recordMinLen {
		return m, 0, fmt.Errorf("%w: record of %d bytes is shorter than the minimum %d", ErrCorrupt, len(b), recordMinLen)
	}
	if b[0] != recordVersion {
		return m, 0, fmt.Errorf("%w: unknown record version %d", ErrCorrupt, b[0])
	}
	if got, want := recordCRC(b), binary.LittleEndian.Uint32(b[1:]); got != want {
		return m, 0, fmt.Errorf("%w: record checksum mismatch", ErrCorrupt)
	}
	if b[5]&^knownRecordFlags != 0 {
		return m, 0, fmt.Errorf("%w: unknown record flags %#x", ErrCorrupt, b[5])
	}
	m.Last = b[5]&flagLastOfReq != 0
	m.Timestamp = int64(binary.LittleEndian.Uint64(b[6:]))
	seq, n, err := readUvarint(b, recordFixedLen)
	if err != nil {
		return m, 0, err
	}
	m.Seq = seq
	return m, recordFixedLen + n, nil
}

// decodeRecord validates b and returns its contents. Key and Body are copies
// (one allocation shared by both), so b may be reused by the caller.
func decodeRecord(b []byte) (Record, recordMeta, error) {
	r, m, err := decodeRecordView(b)
	if err != nil {
		return r, m, err
	}
	// Key and body are contiguous in the envelope: copy them with one
	// allocation (the make+copy idiom, which skips zeroing the new memory).
	if n := len(r.Key) + len(r.Body); n > 0 {
		buf := make([]byte, n)
		copy(buf, b[len(b)-n:])
		r.Key, r.Body = splitKeyBody(buf, len(r.Key))
	}
	return r, m, nil
}

// splitKeyBody cuts kb (key then body) into the Record fields: nil for an
// empty one, and a key capped so that appending to it cannot overwrite the
// body.
func splitKeyBody(kb []byte, keyLen int) (key, body []byte) {
	if keyLen > 0 {
		key = kb[:keyLen:keyLen]
	}
	if len(kb) > keyLen {
		body = kb[keyLen:len(kb):len(kb)]
	}
	return key, body
}

// decodeRecordView validates b and returns its contents with Key and Body
// aliasing b (headers are copied into strings). Callers must copy them
// before b can change or be handed out.
func decodeRecordView(b []byte) (Record, recordMeta, error) {
	m, pos, err := decodeMeta(b)
	if err != nil {
		return Record{}, m, err
	}
	r := Record{Timestamp: m.Timestamp}
	count, n, err := readUvarint(b, pos)
	if err != nil {
		return Record{}, m, err
	}
	pos += n
	// Every header takes at least two bytes, which bounds count before we
	// allocate anything for it.
	if count > uint64(len(b)-pos)/2 {
		return Record{}, m, fmt.Errorf("%w: header count %d exceeds record size", ErrCorrupt, count)
	}
	var prev string
	for i := uint64(0); i < count; i++ {
		var name, value []byte
		if name, pos, err = readBytes(b, pos); err != nil {
			return Record{}, m, err
		}
		if value, pos, err = readBytes(b, pos); err != nil {
			return Record{}, m, err
		}
		if i > 0 && string(name) <= prev {
			return Record{}, m, fmt.Errorf("%w: header names not in strictly increasing order", ErrCorrupt)
		}
		if r.Headers == nil {
			r.Headers = make(map[string]string, count)
		}
		prev = string(name)
		r.Headers[prev] = string(value)
	}
	key, pos, err := readBytes(b, pos)
	if err != nil {
		return Record{}, m, err
	}
	r.Key, r.Body = splitKeyBody(b[pos-len(key):], len(key))
	return r, m, nil
}

// readUvarint reads a shortest-form uvarint at b[pos:].
func readUvarint(b []byte, pos int) (uint64, int, error) {
	if pos > len(b) {
		return 0, 0, fmt.Errorf("%w: record truncated", ErrCorrupt)
	}
	v, n := binary.Uvarint(b[pos:])
	if n <= 0 {
		return 0, 0, fmt.Errorf("%w: bad varint at byte %d", ErrCorrupt, pos)
	}
	if n != uvarintLen(v) {
		return 0, 0, fmt.Errorf("%w: non-canonical varint at byte %d", ErrCorrupt, pos)
	}
	return v, n, nil
}

// readBytes reads a uvarint length followed by that many bytes; the result
// aliases b.
func readBytes(b []byte, pos int) ([]byte, int, error) {
	l, n, err := readUvarint(b, pos)
	if err != nil {
		return nil, 0, err
	}
	pos += n
	if l > uint64(len(b)-pos) {
		return nil, 0, fmt.Errorf("%w: field of %d bytes overruns record", ErrCorrupt, l)
	}
	return b[pos : pos+int(l)], pos + int(l), nil
}

// uvarintLen is the length of the shortest uvarint encoding of v.
func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
