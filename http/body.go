package http

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/weirflow/weir/config"
)

// readBodyLimit reads a whole request body of at most limit bytes
// (inclusive); a longer one is config.ErrTooLarge, which every family maps
// to its own 413. A declared Content-Length above the limit fails before
// reading, and a chunked body is read to limit+1 bytes at most, so an
// oversized body never costs more memory than the limit. A body that
// cannot be read (bad chunked framing, cut short) is the client's mistake:
// bodyReadError.
//
// PolarStreams produce has its own reader (readLimitedBody): it must also
// tell the caller whether unread bytes are left on the connection.
func readBodyLimit(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	// Size the buffer from Content-Length (+1 so ReadFrom sees EOF without
	// growing), but never trust a client's figure beyond 1 MiB up front.
	size := int64(512)
	if r.ContentLength >= 0 {
		size = min(r.ContentLength+1, 1<<20)
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	n, err := buf.ReadFrom(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, bodyReadError(err)
	}
	if n > limit {
		return nil, tooLarge(limit)
	}
	return buf.Bytes(), nil
}

// bodyReadError classifies a failure to read a request body (malformed
// chunked framing, a body shorter than its Content-Length, a connection
// closed mid-body) as the client's mistake: 400 in every API family, never
// a 500 (spec cdap-streams 10a).
func bodyReadError(err error) error {
	return fmt.Errorf("%w: reading the request body: %v", config.ErrInvalidArgument, err)
}

func tooLarge(limit int64) error {
	return fmt.Errorf("%w: more than %d bytes", config.ErrTooLarge, limit)
}

// produceBodies recycles the buffers of PolarStreams produce bodies: a fresh
// 1 MiB buffer per request had to be zeroed and faulted in, 6–8% of the CPU
// of the NDJSON produce benchmark. Events alias the body (no copy on the way
// to the log), so a buffer may go back only once nothing can read it again:
// after the engine acknowledged the request, because Produce has copied its
// events into the log before it answers. A request that failed (a timeout
// above all) may still sit in a partition's queue and be written later, so
// its buffer is never returned; the GC takes it.
var produceBodies sync.Pool

// maxPooledBody keeps an occasional large body (polarstreams
// max_message_size may be raised) from being held by the pool.
const maxPooledBody = 4 << 20

// takeBody returns a buffer of n bytes, recycled when one large enough is
// at hand. Its contents are unspecified; the caller fills all of it.
func takeBody(n int) []byte {
	if p, _ := produceBodies.Get().(*[]byte); p != nil && cap(*p) >= n {
		return (*p)[:n]
	}
	return make([]byte, n)
}

// recycleBody gives back a buffer from takeBody that nothing will read
// again (see produceBodies).
func recycleBody(b []byte) {
	if cap(b) == 0 || cap(b) > maxPooledBody {
		return
	}
	produceBodies.Put(&b)
}
