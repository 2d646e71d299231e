package http_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/weirflow/weir/config"
)

// topicEnd sums a topic's end offsets (events appended so far).
func topicEnd(tb testing.TB, ts *testServer, topic string) int64 {
	info, err := ts.Engine.GetTopic(context.Background(), "default", topic)
	if err != nil {
		return 0
	}
	var n int64
	for _, p := range info.Partitions {
		n += p.NextOffset
	}
	return n
}

func produceBatch(tb testing.TB, ts *testServer, topic string, bodies [][]byte) {
	msgs := make([]config.Message, len(bodies))
	for i, b := range bodies {
		msgs[i] = config.Message{Body: b}
	}
	if _, err := ts.Engine.Produce(context.Background(), config.ProduceRequest{
		Namespace: "default", Topic: topic, Messages: msgs, CreateTopic: true,
	}); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkTopicToTopic measures a stream `weir input (group) → mapping →
// weir output` on the real engine: throughput draining b.N preloaded events
// (durable output: every append fsynced before its ack), then end-to-end
// latency (produce call → append to the output topic) of events produced
// while the stream runs.
func BenchmarkTopicToTopic(b *testing.B) {
	ts := startServer(b, nil)
	n := b.N
	for i := 0; i < n; i += 1000 {
		var bodies [][]byte
		for j := i; j < i+1000 && j < n; j++ {
			bodies = append(bodies, []byte(fmt.Sprintf(`{"n":%d,"t":0}`, j)))
		}
		produceBatch(b, ts, "benchA", bodies)
	}
	cfg := "input:\n  weir:\n    topic: benchA\n    group: bench\n    start_from: earliest\n" +
		"pipeline:\n  processors:\n    - mapping: 'root = this.merge({\"mapped\": true})'\n" +
		"output:\n  weir:\n    topic: benchB\n"
	b.ResetTimer()
	start := time.Now()
	wantE200(b, call(b, "POST", ts.URL+"/streams/bench", cfg))
	for topicEnd(b, ts, "benchB") < int64(n) {
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(n)/elapsed.Seconds(), "events/s")

	// Latency: 20 batches of 100 events, 10ms apart, through the running
	// stream.
	const batches, per = 20, 100
	base := topicEnd(b, ts, "benchB")
	for i := 0; i < batches; i++ {
		bodies := make([][]byte, per)
		now := time.Now().UnixNano()
		for j := range bodies {
			bodies[j] = []byte(fmt.Sprintf(`{"n":-1,"t":%d}`, now))
		}
		produceBatch(b, ts, "benchA", bodies)
		time.Sleep(10 * time.Millisecond)
	}
	deadline := time.Now().Add(30 * time.Second)
	for topicEnd(b, ts, "benchB") < base+batches*per {
		if time.Now().After(deadline) {
			b.Fatal("latency events did not arrive")
		}
		time.Sleep(time.Millisecond)
	}
	var lat []float64
	for _, e := range readTopic(b, ts, "default", "benchB") {
		var v struct{ T int64 }
		if json.Unmarshal(e.Body, &v) == nil && v.T > 0 {
			lat = append(lat, float64(e.Timestamp*1000-v.T)/1e6)
		}
	}
	sort.Float64s(lat)
	if len(lat) > 0 {
		b.ReportMetric(lat[len(lat)/2], "p50_ms")
		b.ReportMetric(lat[len(lat)*99/100], "p99_ms")
	}
}
