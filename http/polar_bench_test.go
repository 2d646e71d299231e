package http_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirflow/weir/config"
)

// PolarStreams throughput over loopback HTTP against the real engine
// (durable: every 200 is after fsync). Targets (issue 4): ≥300k durable
// events/s produced, ≥500k events/s consumed by one group, on 2 cores.
//
//	go test ./http/ -run XXX -bench BenchmarkPolar -benchtime 2000x

// benchEvent is a 1 KiB JSON event (1023 bytes + the NDJSON newline).
func benchEvent(i int) []byte {
	head := fmt.Sprintf(`{"i":%d,"pad":"`, i)
	pad := bytes.Repeat([]byte("x"), 1023-len(head)-2)
	return append(append([]byte(head), pad...), `"}`...)
}

// ndjsonBody is n 1 KiB events, one per line.
func ndjsonBody(n int) []byte {
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		b.Write(benchEvent(i))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func benchPolar(b *testing.B) (*polar, *http.Client) {
	p := newPolar(b, func(c *config.Config) {
		c.PolarStreams.ConsumerTimeout = config.Duration(time.Minute)
	})
	tr := &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64, DisableCompression: true}
	b.Cleanup(tr.CloseIdleConnections)
	return p, &http.Client{Transport: tr}
}

func post(b *testing.B, c *http.Client, u, ct string, body []byte) (int, []byte) {
	req, err := http.NewRequest("POST", u, bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// BenchmarkPolarProduceNDJSON: 16 concurrent clients POST NDJSON bodies of
// 1 KiB events (keyless, so requests rotate over the 4 partitions). One
// iteration is one request.
func BenchmarkPolarProduceNDJSON(b *testing.B) {
	for _, size := range []struct {
		name   string
		events int
	}{{"64KiB", 63}, {"1MiB", 1023}} {
		b.Run(size.name, func(b *testing.B) {
			p, c := benchPolar(b)
			body := ndjsonBody(size.events)
			u := p.ts.URL + "/v1/topic/bench/messages"
			// The topic exists before timing starts.
			if st, out := post(b, c, u, "application/x-ndjson", body); st != 200 {
				b.Fatalf("%d %s", st, out)
			}
			const clients = 16
			b.SetParallelism((clients + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.SetBytes(int64(len(body)))
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if st, out := post(b, c, u, "application/x-ndjson", body); st != 200 {
						b.Errorf("%d %s", st, out)
						return
					}
				}
			})
			el := time.Since(start).Seconds()
			b.StopTimer()
			b.ReportMetric(float64(b.N*size.events)/el, "events/s")
			b.ReportMetric(float64(b.N*len(body))/el/1e6, "MB/s")
		})
	}
}

// pollInto POSTs an empty poll to u and reads the answer into buf, grown
// to the response's Content-Length (which weir always sets on polls) and
// reused across polls, as a consumer that cares about its own CPU would:
// with io.ReadAll growing a fresh buffer per poll the benchmark's clients
// took 13% of the 2 cores the server is measured on.
func pollInto(b *testing.B, c *http.Client, u string, buf []byte) (status int, body, grown []byte) {
	resp, err := c.Post(u, "", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	if n := int(resp.ContentLength); n > cap(buf) {
		buf = make([]byte, n)
	}
	if resp.ContentLength < 0 {
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, out, buf
	}
	buf = buf[:resp.ContentLength]
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		b.Fatal(err)
	}
	return resp.StatusCode, buf, buf
}

// BenchmarkPolarConsumeGroup: one group of 4 consumers (one partition each)
// drains b.N pre-produced 1 KiB JSON events with auto-commit. One iteration
// is one event consumed.
func BenchmarkPolarConsumeGroup(b *testing.B) {
	p, c := benchPolar(b)
	const perReq = 1000
	body := ndjsonBody(perReq)
	u := p.ts.URL + "/v1/topic/cbench/messages"
	members := []string{"m0", "m1", "m2", "m3"}
	for _, m := range members {
		if st, out := post(b, c, p.ts.URL+"/v1/consumer/register?consumerId="+m+"&group=bench&topic=cbench&onNewGroup=startFromEarliest", "", nil); st != 200 {
			b.Fatalf("register: %d %s", st, out)
		}
	}
	// Pre-produce at least b.N events (4 producers, round-robin partitions).
	reqs := (b.N + perReq - 1) / perReq
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(reqs) {
				if st, out := post(b, c, u, "application/x-ndjson", body); st != 200 {
					b.Errorf("produce: %d %s", st, out)
					return
				}
			}
		}()
	}
	wg.Wait()
	want := int64(reqs * perReq)
	b.ResetTimer()
	start := time.Now()
	var events, bytesOut atomic.Int64
	for _, m := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pu := p.ts.URL + "/v1/consumer/poll?consumerId=" + m
			var buf []byte
			for events.Load() < want {
				var st int
				var out []byte
				st, out, buf = pollInto(b, c, pu, buf)
				switch st {
				case 200:
					n := bytes.Count(out, []byte(`{"i":`))
					events.Add(int64(n))
					bytesOut.Add(int64(len(out)))
				case 204:
				default:
					b.Errorf("poll: %d %s", st, out)
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	b.StopTimer()
	if got := events.Load(); got != want {
		b.Fatalf("consumed %d events, produced %d", got, want)
	}
	b.ReportMetric(float64(want)/el, "events/s")
	b.ReportMetric(float64(bytesOut.Load())/el/1e6, "MB/s")
}
