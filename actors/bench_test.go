package actors

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	tidwal "github.com/tidwall/wal"

	"github.com/weirflow/weir/config"
	"github.com/weirflow/weir/wal"
)

// BenchmarkEngineProduce measures durable produce of 1 KiB events through
// the Engine with 1, 64 and 256 concurrent producers into one partition, and
// in the same run raw tidwall/wal WriteBatch (fsync per batch) at the
// engine's average batch size (events per sync) and with entries as large
// as the engine's stored records (body plus envelope), so the two figures
// are comparable:
//
//	go test ./actors/ -run '^$' -bench BenchmarkEngineProduce -benchtime 50000x
//
// The shared disk's speed drifts by 2x within seconds, so the two sides
// are interleaved: benchRounds rounds, each an engine round of b.N/rounds
// events followed by a raw round of as many events at that round's engine
// batch, both appending to one long-lived log each. Each side's events/s is
// its events over its summed time.
func BenchmarkEngineProduce(b *testing.B) {
	for _, producers := range []int{1, 64, 256} {
		b.Run(fmt.Sprintf("producers=%d", producers), func(b *testing.B) {
			cfg := testConfig(b.TempDir())
			cfg.Storage.SegmentSize = 8 * config.MiB
			e := startEngine(b, cfg)
			ctx := context.Background()
			if _, _, err := e.CreateTopic(ctx, "default", "bench", config.TopicProps{Partitions: 1, TTLMillis: config.TTLForever}); err != nil {
				b.Fatal(err)
			}
			body := make([]byte, 1024)
			// Raw writes entries as large as the engine's stored records
			// (the 1 KiB body plus weir's envelope: version, CRC, flags,
			// timestamp, request sequence, header count, key length), so
			// both sides put the same bytes on disk per event.
			rawBody := make([]byte, len(body)+envelopeOverhead(b, body))
			raw, err := tidwal.Open(filepath.Join(b.TempDir(), "raw"), &tidwal.Options{SegmentSize: 8 << 20})
			if err != nil {
				b.Fatal(err)
			}
			defer raw.Close()
			rawIdx := uint64(1)

			rounds := min(benchRounds, b.N)
			var engineTime, rawTime, engineCPU time.Duration
			var engineEvents, rawEvents int
			var syncs uint64
			var synced float64
			b.ResetTimer()
			for r := 0; r < rounds; r++ {
				n := b.N/rounds + btoi(r < b.N%rounds)
				sum0, cnt0 := histogram(e)
				cpu0 := processCPU()
				el := produceRound(b, e, producers, n, body)
				engineCPU += processCPU() - cpu0
				engineTime += el
				engineEvents += n
				sum1, cnt1 := histogram(e)
				syncs += cnt1 - cnt0
				synced += sum1 - sum0
				batch := 1
				if cnt1 > cnt0 {
					batch = max(1, int((sum1-sum0)/float64(cnt1-cnt0)+0.5))
				}
				var took time.Duration
				took, rawIdx = rawWriteBatch(b, raw, rawIdx, batch, n, rawBody)
				rawTime += took
				rawEvents += n
			}
			b.StopTimer()
			avg := 1.0
			if syncs > 0 {
				avg = synced / float64(syncs)
			}
			engine := float64(engineEvents) / engineTime.Seconds()
			rawRate := float64(rawEvents) / rawTime.Seconds()
			b.ReportMetric(engine, "events/s")
			b.ReportMetric(avg, "events/batch")
			b.ReportMetric(rawRate, "raw_events/s")
			b.ReportMetric(100*engine/rawRate, "%_of_raw")
			// CPU (user+system, whole process) per produced event: less
			// at the mercy of the shared machine than events/s.
			b.ReportMetric(float64(engineCPU.Microseconds())/float64(engineEvents), "cpu_µs/event")
			b.Logf("producers=%d N=%d in %d rounds: engine %.0f events/s (avg %.1f events per sync, %d syncs, %.1f µs CPU/event) | raw tidwall WriteBatch at each round's batch %.0f events/s (entries of %d B) | engine = %.0f%% of raw",
				producers, b.N, rounds, engine, avg, syncs, float64(engineCPU.Microseconds())/float64(engineEvents), rawRate, len(rawBody), 100*engine/rawRate)
		})
	}
}

// benchRounds is how many engine/raw rounds BenchmarkEngineProduce
// interleaves.
const benchRounds = 8

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// produceRound has producers goroutines produce n single-event requests
// between them and returns the wall time.
func produceRound(b *testing.B, e *Engine, producers, n int, body []byte) time.Duration {
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	ctx := context.Background()
	start := time.Now()
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if _, err := e.Produce(ctx, config.ProduceRequest{Namespace: "default", Topic: "bench",
					Messages: []config.Message{{Body: body}}}); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d produce calls failed", f)
	}
	return el
}

// envelopeOverhead is how many bytes weir's record envelope adds to body.
func envelopeOverhead(b *testing.B, body []byte) int {
	dir := b.TempDir()
	l, err := wal.Open(dir, wal.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Append([]wal.Record{{Timestamp: time.Now().UnixMicro(), Body: body}}); err != nil {
		b.Fatal(err)
	}
	return int(l.Size()) - len(body) - 2 // minus tidwall's 2-byte length prefix
}

// histogram reads the engine's events-per-sync histogram.
func histogram(e *Engine) (sum float64, count uint64) {
	var m dto.Metric
	if err := e.sh.m.batchSize.Write(&m); err != nil {
		return 0, 0
	}
	return m.GetHistogram().GetSampleSum(), m.GetHistogram().GetSampleCount()
}

// rawWriteBatch appends n events of body to l from index idx with tidwall/wal
// directly, batch events per WriteBatch (one fsync each, the last batch
// possibly shorter), and returns the time it took and the next index.
func rawWriteBatch(b *testing.B, l *tidwal.Log, idx uint64, batch, n int, body []byte) (time.Duration, uint64) {
	var wb tidwal.Batch
	start := time.Now()
	for written := 0; written < n; {
		wb.Clear()
		for i := 0; i < batch && written < n; i++ {
			wb.Write(idx, body)
			idx++
			written++
		}
		if err := l.WriteBatch(&wb); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start), idx
}

// processCPU is the user plus system CPU time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
