package http

import (
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"

	"github.com/golang/snappy"
	"github.com/hamba/avro/v2"
)

// errCDAPTooLarge is returned by the body readers when a request body passes
// its configured limit; the handler answers 413 `Request body too large`.
var errCDAPTooLarge = errors.New("request body too large")

// splitChunk is the read size of the text splitter when the body length is
// unknown (chunked uploads).
const splitChunk = 256 << 10

// splitTextBatch reads a text/* batch body and calls emit once per event
// (spec §4.6): lines end at LF, one CR right before the LF is dropped, empty
// lines are skipped, a last line without LF is an event (its CR, if any, is
// data). It never reads more than limit+1 bytes: past limit it stops with
// errCDAPTooLarge. sizeHint (the Content-Length, or -1) sizes the first
// buffer so a body of known length is read into one allocation.
//
// The slices passed to emit stay valid after the call returns: buffers are
// never reused or moved, only a partial line is copied into a fresh buffer
// when one fills up. That lets the caller hand the lines to the engine
// without copying each event.
func splitTextBatch(r io.Reader, limit, sizeHint int64, emit func(line []byte)) error {
	size := int64(splitChunk)
	if sizeHint >= 0 && sizeHint < limit {
		size = sizeHint + 1 // +1 so EOF is seen without another buffer
	}
	if size > limit+1 {
		size = limit + 1
	}
	if size < 512 {
		size = 512
	}
	buf := make([]byte, 0, size)
	var total int64
	start, scan := 0, 0
	for {
		if len(buf) == cap(buf) {
			carry := buf[start:]
			nc := splitChunk
			if 2*len(carry) > nc {
				nc = 2 * len(carry)
			}
			nb := make([]byte, len(carry), nc)
			copy(nb, carry)
			scan -= start
			start = 0
			buf = nb
		}
		room := buf[len(buf):cap(buf)]
		if rest := limit + 1 - total; int64(len(room)) > rest {
			room = room[:rest]
		}
		n, err := r.Read(room)
		total += int64(n)
		if total > limit {
			return errCDAPTooLarge
		}
		buf = buf[:len(buf)+n]
		for {
			i := bytes.IndexByte(buf[scan:], '\n')
			if i < 0 {
				scan = len(buf)
				break
			}
			end := scan + i
			line := buf[start:end]
			if len(line) > 0 && line[len(line)-1] == '\r' {
				line = line[:len(line)-1]
			}
			if len(line) > 0 {
				emit(line[:len(line):len(line)])
			}
			start = end + 1
			scan = start
		}
		if err == io.EOF {
			if start < len(buf) {
				line := buf[start:]
				emit(line[:len(line):len(line)])
			}
			return nil
		}
		if err != nil {
			return bodyReadError(err)
		}
	}
}

// avroBatch is a decoded Avro object container file: the writer schema text
// exactly as in the file header, and each record's binary encoding.
type avroBatch struct {
	schema  string
	hash    string // lowercase hex MD5 of schema
	records [][]byte
}

// errAvro wraps every reason a container file is rejected; the handler
// answers 400 `Failed to process uploaded avro file: <reason>`.
var errAvro = errors.New("avro")

func avroErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errAvro}, args...)...)
}

// avroLimits bound what one container file may expand to.
type avroLimits struct {
	// body is the request body limit (bytes read from the client).
	body int64
	// decoded bounds the sum of decompressed block sizes.
	decoded int64
	// records bounds the number of records (zero-byte records exist, e.g.
	// schema "null", so the byte bounds alone do not bound the count).
	records int64
}

var avroMagic = []byte{'O', 'b', 'j', 1}

// decodeAvroBatch reads an Avro object container file (codecs null, deflate
// and snappy) from r, bounded by lim, and splits its blocks into records by
// walking the writer schema. Record bodies are sub-slices of the decoded
// blocks: the exact bytes the writer encoded, without container framing.
func decodeAvroBatch(r io.Reader, lim avroLimits) (*avroBatch, error) {
	cr := &cdapCountingReader{r: r, limit: lim.body}
	br := bufio.NewReaderSize(cr, 64<<10)
	magic := make([]byte, 4)
	if _, err := io.ReadFull(br, magic); err != nil {
		return nil, cr.wrap(avroErr("not an Avro object container file: %v", err))
	}
	if !bytes.Equal(magic, avroMagic) {
		return nil, avroErr("not an Avro object container file: bad magic")
	}
	meta, err := readAvroMeta(br)
	if err != nil {
		return nil, cr.wrap(err)
	}
	schemaText, ok := meta["avro.schema"]
	if !ok {
		return nil, avroErr("the file header has no avro.schema")
	}
	codec := "null"
	if c, ok := meta["avro.codec"]; ok && c != "" {
		codec = c
	}
	switch codec {
	case "null", "deflate", "snappy":
	default:
		return nil, avroErr("unsupported codec %q", codec)
	}
	writer, err := avro.ParseWithCache(schemaText, "", &avro.SchemaCache{})
	if err != nil {
		return nil, avroErr("invalid writer schema: %v", err)
	}
	var sync [16]byte
	if _, err := io.ReadFull(br, sync[:]); err != nil {
		return nil, cr.wrap(avroErr("truncated header: %v", err))
	}
	sum := md5.Sum([]byte(schemaText))
	b := &avroBatch{schema: schemaText, hash: hex.EncodeToString(sum[:])}
	var decoded int64
	for {
		count, err := readVarLong(br)
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, cr.wrap(avroErr("truncated block: %v", err))
		}
		size, err := readVarLong(br)
		if err != nil {
			return nil, cr.wrap(avroErr("truncated block: %v", err))
		}
		if count < 0 || size < 0 {
			return nil, avroErr("negative block count or size")
		}
		if size > lim.body {
			return nil, cr.wrap(avroErr("block of %d bytes exceeds the body limit", size))
		}
		if int64(len(b.records))+count > lim.records {
			return nil, avroErr("too many records")
		}
		data := make([]byte, size)
		if _, err := io.ReadFull(br, data); err != nil {
			return nil, cr.wrap(avroErr("truncated block: %v", err))
		}
		var got [16]byte
		if _, err := io.ReadFull(br, got[:]); err != nil {
			return nil, cr.wrap(avroErr("truncated block: %v", err))
		}
		if got != sync {
			return nil, avroErr("sync marker mismatch")
		}
		data, err = decompressAvroBlock(codec, data, lim.decoded-decoded)
		if err != nil {
			return nil, err
		}
		decoded += int64(len(data))
		pos := 0
		w := &avroWalker{budget: 4*len(data) + 1024}
		for i := int64(0); i < count; i++ {
			end, err := w.skip(data, pos, writer, 0)
			if err != nil {
				return nil, avroErr("record %d: %v", int64(len(b.records)), err)
			}
			b.records = append(b.records, data[pos:end:end])
			pos = end
		}
		if pos != len(data) {
			return nil, avroErr("%d bytes left over after the block's %d records", len(data)-pos, count)
		}
	}
}

func decompressAvroBlock(codec string, data []byte, room int64) ([]byte, error) {
	switch codec {
	case "deflate":
		fr := flate.NewReader(bytes.NewReader(data))
		defer fr.Close()
		out, err := io.ReadAll(io.LimitReader(fr, room+1))
		if err != nil {
			return nil, avroErr("deflate: %v", err)
		}
		if int64(len(out)) > room {
			return nil, avroErr("decompressed data exceeds the limit")
		}
		return out, nil
	case "snappy":
		if len(data) < 4 {
			return nil, avroErr("snappy block without checksum")
		}
		payload, crc := data[:len(data)-4], binary.BigEndian.Uint32(data[len(data)-4:])
		n, err := snappy.DecodedLen(payload)
		if err != nil {
			return nil, avroErr("snappy: %v", err)
		}
		if int64(n) > room {
			return nil, avroErr("decompressed data exceeds the limit")
		}
		out, err := snappy.Decode(make([]byte, n), payload)
		if err != nil {
			return nil, avroErr("snappy: %v", err)
		}
		if crc32.ChecksumIEEE(out) != crc {
			return nil, avroErr("snappy: checksum mismatch")
		}
		return out, nil
	}
	if int64(len(data)) > room {
		return nil, avroErr("decoded data exceeds the limit")
	}
	return data, nil
}

// readAvroMeta reads the header's metadata map (string → bytes).
func readAvroMeta(br *bufio.Reader) (map[string]string, error) {
	meta := map[string]string{}
	for {
		n, err := readVarLong(br)
		if err != nil {
			return nil, avroErr("truncated header: %v", noEOF(err))
		}
		if n == 0 {
			return meta, nil
		}
		if n < 0 {
			n = -n
			if _, err := readVarLong(br); err != nil { // block size in bytes
				return nil, avroErr("truncated header: %v", noEOF(err))
			}
		}
		if n > 1<<16 {
			return nil, avroErr("too many metadata entries")
		}
		for i := int64(0); i < n; i++ {
			k, err := readAvroBytes(br)
			if err != nil {
				return nil, err
			}
			v, err := readAvroBytes(br)
			if err != nil {
				return nil, err
			}
			meta[string(k)] = string(v)
		}
	}
}

// maxAvroMetaValue bounds one header value (schemas are small).
const maxAvroMetaValue = 4 << 20

func readAvroBytes(br *bufio.Reader) ([]byte, error) {
	n, err := readVarLong(br)
	if err != nil {
		return nil, avroErr("truncated header: %v", noEOF(err))
	}
	if n < 0 || n > maxAvroMetaValue {
		return nil, avroErr("invalid header entry length %d", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(br, b); err != nil {
		return nil, avroErr("truncated header: %v", noEOF(err))
	}
	return b, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

var errVarint = errors.New("malformed variable-length integer")

// readVarLong reads a zig-zag varint long; io.EOF only when no byte was read.
func readVarLong(br io.ByteReader) (int64, error) {
	var u uint64
	for shift := uint(0); ; shift += 7 {
		c, err := br.ReadByte()
		if err != nil {
			if shift == 0 {
				return 0, err
			}
			return 0, noEOF(err)
		}
		if shift >= 64 || (shift == 63 && c > 1) {
			return 0, errVarint
		}
		u |= uint64(c&0x7F) << shift
		if c < 0x80 {
			break
		}
	}
	return int64(u>>1) ^ -int64(u&1), nil
}

// varLongAt decodes a zig-zag varint long from b at pos.
func varLongAt(b []byte, pos int) (int64, int, error) {
	var u uint64
	for shift := uint(0); ; shift += 7 {
		if pos >= len(b) {
			return 0, 0, io.ErrUnexpectedEOF
		}
		c := b[pos]
		pos++
		if shift >= 64 || (shift == 63 && c > 1) {
			return 0, 0, errVarint
		}
		u |= uint64(c&0x7F) << shift
		if c < 0x80 {
			break
		}
	}
	return int64(u>>1) ^ -int64(u&1), pos, nil
}

// avroWalker walks Avro binary data by schema. budget bounds the number of
// array/map items one block may declare, so a block claiming 2^62 zero-byte
// items cannot spin forever.
type avroWalker struct {
	budget int
}

// maxAvroDepth bounds recursion through nested or recursive schemas.
const maxAvroDepth = 200

// skip returns the position just past one value of schema s at pos.
func (w *avroWalker) skip(b []byte, pos int, s avro.Schema, depth int) (int, error) {
	if depth > maxAvroDepth {
		return 0, errors.New("value nested too deep")
	}
	switch s.Type() {
	case avro.Null:
		return pos, nil
	case avro.Boolean:
		if pos >= len(b) {
			return 0, io.ErrUnexpectedEOF
		}
		if b[pos] > 1 {
			return 0, fmt.Errorf("invalid boolean byte %d", b[pos])
		}
		return pos + 1, nil
	case avro.Int, avro.Long:
		_, p, err := varLongAt(b, pos)
		return p, err
	case avro.Float:
		return fixedLen(b, pos, 4)
	case avro.Double:
		return fixedLen(b, pos, 8)
	case avro.String, avro.Bytes:
		n, p, err := varLongAt(b, pos)
		if err != nil {
			return 0, err
		}
		if n < 0 {
			return 0, fmt.Errorf("negative length %d", n)
		}
		return fixedLen(b, p, n)
	case avro.Fixed:
		return fixedLen(b, pos, int64(s.(*avro.FixedSchema).Size()))
	case avro.Enum:
		n, p, err := varLongAt(b, pos)
		if err != nil {
			return 0, err
		}
		if n < 0 || n >= int64(len(s.(*avro.EnumSchema).Symbols())) {
			return 0, fmt.Errorf("enum index %d out of range", n)
		}
		return p, nil
	case avro.Union:
		types := s.(*avro.UnionSchema).Types()
		n, p, err := varLongAt(b, pos)
		if err != nil {
			return 0, err
		}
		if n < 0 || n >= int64(len(types)) {
			return 0, fmt.Errorf("union index %d out of range", n)
		}
		return w.skip(b, p, types[n], depth+1)
	case avro.Record, avro.Error:
		for _, f := range s.(*avro.RecordSchema).Fields() {
			p, err := w.skip(b, pos, f.Type(), depth+1)
			if err != nil {
				return 0, err
			}
			pos = p
		}
		return pos, nil
	case avro.Ref:
		return w.skip(b, pos, s.(*avro.RefSchema).Schema(), depth+1)
	case avro.Array:
		items := s.(*avro.ArraySchema).Items()
		return w.blocks(b, pos, depth, func(p int) (int, error) { return w.skip(b, p, items, depth+1) })
	case avro.Map:
		values := s.(*avro.MapSchema).Values()
		return w.blocks(b, pos, depth, func(p int) (int, error) {
			n, p, err := varLongAt(b, p)
			if err != nil {
				return 0, err
			}
			if n < 0 {
				return 0, fmt.Errorf("negative key length %d", n)
			}
			if p, err = fixedLen(b, p, n); err != nil {
				return 0, err
			}
			return w.skip(b, p, values, depth+1)
		})
	}
	return 0, fmt.Errorf("unsupported schema type %s", s.Type())
}

// blocks walks the block encoding of arrays and maps: counts, a negative
// count followed by the block's byte size, a zero count at the end.
func (w *avroWalker) blocks(b []byte, pos, depth int, item func(int) (int, error)) (int, error) {
	for {
		n, p, err := varLongAt(b, pos)
		if err != nil {
			return 0, err
		}
		pos = p
		if n == 0 {
			return pos, nil
		}
		if n < 0 {
			if n == math.MinInt64 {
				return 0, errors.New("invalid block count")
			}
			n = -n
			if _, pos, err = varLongAt(b, pos); err != nil {
				return 0, err
			}
		}
		if n > int64(w.budget) {
			return 0, errors.New("too many items")
		}
		w.budget -= int(n)
		for i := int64(0); i < n; i++ {
			if pos, err = item(pos); err != nil {
				return 0, err
			}
		}
	}
}

func fixedLen(b []byte, pos int, n int64) (int, error) {
	if n > int64(len(b)-pos) {
		return 0, io.ErrUnexpectedEOF
	}
	return pos + int(n), nil
}

// cdapCountingReader fails with errCDAPTooLarge once more than limit bytes were
// read, so a decoder can tell "the client sent too much" from "corrupt".
type cdapCountingReader struct {
	r     io.Reader
	n     int64
	limit int64
	over  bool
}

func (c *cdapCountingReader) Read(p []byte) (int, error) {
	if c.over {
		return 0, errCDAPTooLarge
	}
	if rest := c.limit + 1 - c.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n > c.limit {
		c.over = true
		return 0, errCDAPTooLarge
	}
	return n, err
}

// wrap prefers errCDAPTooLarge over whatever the decoder made of the cut.
func (c *cdapCountingReader) wrap(err error) error {
	if c.over || errors.Is(err, errCDAPTooLarge) {
		return errCDAPTooLarge
	}
	return err
}
