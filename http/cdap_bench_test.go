package http_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/weirflow/weir/config"
)

// Benchmarks of the CDAP ingest paths over loopback HTTP against the real
// engine (durable: every 200 is after fsync), and a baseline: a bare gin
// handler whose only work is one group-committed fsync per batch of waiting
// requests. Run with:
//
//	go test ./http/ -run '^$' -bench 'CDAP|Baseline' -benchtime 10s
//
// Each reports events/s, MB/s (event bodies) and p50/p99 request latency.

const benchClients = 64

func benchHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     time.Minute,
	}}
}

// runClients issues b.N requests from n goroutines and reports figures.
// eventsPer and bytesPer describe one request's payload.
func runClients(b *testing.B, n int, eventsPer, bytesPer int, do func(c *http.Client) error) {
	b.Helper()
	client := benchHTTPClient()
	var next atomic.Int64
	lat := make([][]time.Duration, n)
	var wg sync.WaitGroup
	var failed atomic.Value
	b.ResetTimer()
	start := time.Now()
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				if err := do(client); err != nil {
					failed.Store(err)
					return
				}
				lat[g] = append(lat[g], time.Since(t0))
			}
		}(g)
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err, ok := failed.Load().(error); ok {
		b.Fatal(err)
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[int(p*float64(len(all)-1))].Microseconds()) / 1000
	}
	sec := elapsed.Seconds()
	b.ReportMetric(float64(b.N*eventsPer)/sec, "events/s")
	b.ReportMetric(float64(b.N*bytesPer)/sec/1e6, "MB/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op") // wall time per op is meaningless with 64 clients
}

func cdapPost(c *http.Client, url, ct string, body []byte) error {
	req, err := http.NewRequest("POST", url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("POST %s: %d", url, resp.StatusCode)
	}
	return nil
}

func benchServer(b *testing.B) *testServer {
	ts := startServer(b, func(c *config.Config) { c.Log.Level = "error" })
	req, _ := http.NewRequest("PUT", ts.URL+D+"/streams/bench", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		b.Fatalf("create stream: %v", err)
	}
	resp.Body.Close()
	return ts
}

// BenchmarkCDAPSend: durable single-event sends (100-byte bodies) from 64
// concurrent clients.
func BenchmarkCDAPSend(b *testing.B) {
	ts := benchServer(b)
	body := bytes.Repeat([]byte("x"), 100)
	url := ts.URL + D + "/streams/bench"
	runClients(b, benchClients, 1, len(body), func(c *http.Client) error { return cdapPost(c, url, "", body) })
}

// BenchmarkCDAPBatchText: text/plain batches of 1 KiB lines in 1 MiB bodies
// (1024 events each) into a stream of 4 partitions, from 4 concurrent
// clients (about one request in flight per partition, so each partition
// writes and syncs one body at a time) and from 16 (several per partition:
// one body is written while the previous ones sync).
func BenchmarkCDAPBatchText(b *testing.B) {
	line := append(bytes.Repeat([]byte("y"), 1023), '\n')
	body := bytes.Repeat(line, 1024)
	for _, clients := range []int{4, 16} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			ts := benchServer(b)
			url := ts.URL + D + "/streams/bench/batch"
			runClients(b, clients, 1024, 1024*1023, func(c *http.Client) error { return cdapPost(c, url, "text/plain", body) })
		})
	}
}

// groupCommitFile is the baseline's durability: requests queue their bytes,
// one goroutine writes everything queued so far and fsyncs once, then
// releases every waiter of that batch.
type groupCommitFile struct {
	f  *os.File
	mu sync.Mutex
	q  []gcWaiter
	wk chan struct{}
}

type gcWaiter struct {
	data []byte
	done chan error
}

func newGroupCommitFile(path string) (*groupCommitFile, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	g := &groupCommitFile{f: f, wk: make(chan struct{}, 1)}
	go g.loop()
	return g, nil
}

func (g *groupCommitFile) append(data []byte) error {
	w := gcWaiter{data: data, done: make(chan error, 1)}
	g.mu.Lock()
	g.q = append(g.q, w)
	g.mu.Unlock()
	select {
	case g.wk <- struct{}{}:
	default:
	}
	return <-w.done
}

func (g *groupCommitFile) loop() {
	for range g.wk {
		for {
			g.mu.Lock()
			batch := g.q
			g.q = nil
			g.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			var err error
			for _, w := range batch {
				if _, err = g.f.Write(w.data); err != nil {
					break
				}
			}
			if err == nil {
				err = g.f.Sync()
			}
			for _, w := range batch {
				w.done <- err
			}
		}
	}
}

// BenchmarkBaselineGroupCommitSend: the same 64-client single-event load
// against a bare gin handler that reads the body and waits for one
// group-committed fsync — the ceiling the CDAP send path is compared with.
func BenchmarkBaselineGroupCommitSend(b *testing.B) {
	gc, err := newGroupCommitFile(filepath.Join(b.TempDir(), "log"))
	if err != nil {
		b.Fatal(err)
	}
	defer gc.f.Close()
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.POST("/send", func(c *gin.Context) {
		body, err := io.ReadAll(c.Request.Body)
		if err == nil {
			err = gc.append(body)
		}
		if err != nil {
			c.Status(500)
			return
		}
		c.Status(200)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: r}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Shutdown(context.Background())
	body := bytes.Repeat([]byte("x"), 100)
	url := "http://" + ln.Addr().String() + "/send"
	runClients(b, benchClients, 1, len(body), func(c *http.Client) error { return cdapPost(c, url, "", body) })
}
