package wal

import (
	"fmt"
	"testing"

	tidwal "github.com/tidwall/wal"
)

// benchBatches are the batch sizes of issue 2's benchmark: events per
// Append (one fsync each).
var benchBatches = []int{1, 100, 1000}

func benchEvent(i int) Record {
	body := make([]byte, 1024)
	for k := range body {
		body[k] = byte(i + k)
	}
	return Record{Timestamp: 1_700_000_000_000_000 + int64(i), Key: []byte(fmt.Sprintf("key-%d", i%1000)), Body: body}
}

// BenchmarkAppend appends 1 KiB events durably (fsync per Append) in
// requests of one event, batch events per Append call; events/s is the
// figure to compare with BenchmarkTidwallWriteBatch.
func BenchmarkAppend(b *testing.B) {
	for _, batch := range benchBatches {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			opts := DefaultOptions()
			l, err := Open(b.TempDir(), opts)
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			reqs := make([][]Record, batch)
			for i := range reqs {
				reqs[i] = []Record{benchEvent(i)}
			}
			b.SetBytes(int64(batch * 1024))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := l.Append(reqs...); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkWriteCPU is the write path without the disk's sync: 64 KiB
// requests (64 1 KiB events) written and committed with NoSync, so what is
// measured is the CPU and memory of getting bytes into tidwall and the page
// cache. B/op is the figure that does not depend on the host's noise: it
// counts the reallocations of tidwall's tail buffer (tailbuf.go).
func BenchmarkWriteCPU(b *testing.B) {
	opts := DefaultOptions()
	opts.NoSync = true
	l, err := Open(b.TempDir(), opts)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	req := make([]Record, 64)
	for i := range req {
		req[i] = benchEvent(i)
	}
	b.SetBytes(int64(len(req) * 1024))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.Append(req); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*len(req))/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkTidwallWriteBatch is the baseline: raw tidwall/wal WriteBatch of
// entries the size of our encoded 1 KiB events, same segment size, fsync per
// batch.
func BenchmarkTidwallWriteBatch(b *testing.B) {
	for _, batch := range benchBatches {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			tw, err := tidwal.Open(b.TempDir(), &tidwal.Options{SegmentSize: DefaultSegmentSize, SegmentCacheSize: 2})
			if err != nil {
				b.Fatal(err)
			}
			defer tw.Close()
			ev := benchEvent(0)
			data := appendRecord(nil, &ev, 0, true)
			var wb tidwal.Batch
			next := uint64(1)
			b.SetBytes(int64(batch * 1024))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for k := 0; k < batch; k++ {
					wb.Write(next, data)
					next++
				}
				if err := tw.WriteBatch(&wb); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkFetch reads 1 KiB events sequentially, 1000 per Fetch, through
// sealed segments (each loaded once per pass) and the tail. Target: at least
// 500k events/s.
func BenchmarkFetch(b *testing.B) {
	const events = 50_000
	opts := DefaultOptions()
	opts.NoSync = true // only the fill; reads are what is measured
	l, err := Open(b.TempDir(), opts)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	reqs := make([][]Record, 1000)
	for i := 0; i < events; i += len(reqs) {
		for k := range reqs {
			reqs[k] = []Record{benchEvent(i + k)}
		}
		if _, err := l.Append(reqs...); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	read, from := 0, int64(0)
	for i := 0; i < b.N; i++ {
		es, err := l.Fetch(from, 1000, 4<<20)
		if err != nil {
			b.Fatal(err)
		}
		read += len(es)
		from = es[len(es)-1].Offset + 1
		if from >= events {
			from = 0
		}
	}
	b.StopTimer()
	b.SetBytes(1024 * 1000)
	b.ReportMetric(float64(read)/b.Elapsed().Seconds(), "events/s")
}
