package http_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	api "github.com/weirflow/weir/http"

	"github.com/weirflow/weir/config"
)

// lateReader fails every other Produce at once but keeps that request's
// message bytes and checks them later, as a partition does with a request
// whose caller timed out while it sat in the queue: it is still written.
type lateReader struct {
	api.Engine
	mu    sync.Mutex
	calls int
	held  []heldProduce
}

type heldProduce struct {
	msgs []config.Message
	snap [][]byte
}

func (e *lateReader) Produce(ctx context.Context, req config.ProduceRequest) (config.ProduceResult, error) {
	e.mu.Lock()
	e.calls++
	fail := e.calls%2 == 1
	if fail {
		h := heldProduce{msgs: req.Messages}
		for _, m := range req.Messages {
			h.snap = append(h.snap, bytes.Clone(m.Body))
		}
		e.held = append(e.held, h)
	}
	e.mu.Unlock()
	if fail {
		return config.ProduceResult{}, fmt.Errorf("%w: the test's engine gave up waiting", config.ErrTimeout)
	}
	return e.Engine.Produce(ctx, req)
}

// TestFailedProduceBodyIsNotReused: produce bodies are recycled, but only
// after the engine acknowledged them. The body of a failed request must
// stay intact, because the engine may still be about to write it; with a
// recycled buffer the next request's body would be written in its place.
func TestFailedProduceBodyIsNotReused(t *testing.T) {
	var eng *lateReader
	ts := startServerWith(t, func(c *config.Config) { c.Storage.DefaultPartitions = 1 },
		func(o *api.Options) {
			eng = &lateReader{Engine: o.Engine}
			o.Engine = eng
		})
	p := &polar{t: t, ts: ts, client: &http.Client{Timeout: 60 * time.Second}}
	for i := 0; i < 40; i++ {
		var body strings.Builder
		for l := 0; l < 50; l++ {
			fmt.Fprintf(&body, `{"req":%d,"line":%d,"pad":"%s"}`+"\n", i, l, strings.Repeat(string(rune('a'+i%26)), 900))
		}
		r := p.call("POST", "/v1/topic/reuse/messages", strings.NewReader(body.String()), "Content-Type", "application/x-ndjson")
		if failed := i%2 == 0; failed && r.status < 500 || !failed && r.status != 200 {
			t.Fatalf("request %d: %s", i, r)
		}
	}
	eng.mu.Lock()
	defer eng.mu.Unlock()
	if len(eng.held) != 20 {
		t.Fatalf("%d failed produces held, want 20", len(eng.held))
	}
	for i, h := range eng.held {
		for k, m := range h.msgs {
			if !bytes.Equal(m.Body, h.snap[k]) {
				t.Fatalf("failed request %d, event %d: its bytes changed after the request failed:\nnow  %.60q\nwas  %.60q", i, k, m.Body, h.snap[k])
			}
		}
	}
}
