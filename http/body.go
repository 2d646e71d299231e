package http

import (
	"bytes"
	"fmt"
	"io"
	"net/http"

	"github.com/weirflow/weir/config"
)

// readBodyLimit reads a whole request body of at most limit bytes
// (inclusive); a longer one is config.ErrTooLarge, which every family maps
// to its own 413. A declared Content-Length above the limit fails before
// reading, and a chunked body is read to limit+1 bytes at most, so an
// oversized body never costs more memory than the limit. Other errors are
// the connection's read errors, left for the caller to classify.
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
		return nil, err
	}
	if n > limit {
		return nil, tooLarge(limit)
	}
	return buf.Bytes(), nil
}

func tooLarge(limit int64) error {
	return fmt.Errorf("%w: more than %d bytes", config.ErrTooLarge, limit)
}
