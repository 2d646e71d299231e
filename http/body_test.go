package http

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/weirflow/weir/config"
)

// TestReadBodyLimit: the limit is inclusive, a declared length over it fails
// before anything is read, and a body of unknown length (chunked) is cut at
// limit+1 bytes.
func TestReadBodyLimit(t *testing.T) {
	const limit = 8
	for _, tc := range []struct {
		name    string
		body    string
		length  int64 // -1: unknown, as for a chunked body
		want    string
		tooBig  bool
		mayRead bool // whether the reader may be touched
	}{
		{name: "empty", body: "", length: 0, want: ""},
		{name: "at limit", body: "12345678", length: 8, want: "12345678", mayRead: true},
		{name: "chunked at limit", body: "12345678", length: -1, want: "12345678", mayRead: true},
		{name: "chunked over", body: "123456789", length: -1, tooBig: true, mayRead: true},
		{name: "declared over", body: "123456789", length: 9, tooBig: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &countingReader{r: strings.NewReader(tc.body)}
			r := httptest.NewRequest(http.MethodPost, "/", src)
			r.ContentLength = tc.length
			got, err := readBodyLimit(r, limit)
			if tc.tooBig {
				if !errors.Is(err, config.ErrTooLarge) {
					t.Fatalf("err = %v, want ErrTooLarge", err)
				}
			} else if err != nil || string(got) != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
			if !tc.mayRead && src.n > 0 {
				t.Fatalf("read %d bytes of a body it had to refuse unread", src.n)
			}
			if src.n > limit+1 {
				t.Fatalf("read %d bytes, more than limit+1", src.n)
			}
		})
	}
}

// TestReadBodyLimitReadError: a broken connection is not reported as "too large".
func TestReadBodyLimitReadError(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/", io.MultiReader(strings.NewReader("ab"), errReader{}))
	r.ContentLength = -1
	if _, err := readBodyLimit(r, 8); err == nil || errors.Is(err, config.ErrTooLarge) {
		t.Fatalf("err = %v, want the read error", err)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }
