package pipelines

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/benthosdev/benthos/v4/public/service"
	"github.com/rs/zerolog"
)

// benchConfig is generate → mapping → drop with count messages.
func benchConfig(count int) string {
	return fmt.Sprintf("input:\n  generate:\n    count: %d\n    interval: \"\"\n    mapping: 'root = {\"n\":counter()}'\n"+
		"pipeline:\n  processors:\n    - mapping: 'root.doubled = this.n * 2'\noutput:\n  drop: {}\n", count)
}

// runWeir runs the pipeline the way weir runs every stream: its
// environment, lint/parse path, stats exporter and stream mux.
func runWeir(tb testing.TB, env *Environment, n int) time.Duration {
	p, err := env.CheckStream([]byte(benchConfig(n)), false)
	if err != nil {
		tb.Fatal(err)
	}
	start := time.Now()
	r, err := env.Start(StartOptions{ID: "bench", Stream: p})
	if err != nil {
		tb.Fatal(err)
	}
	<-r.Ended()
	d := time.Since(start)
	r.Stop(5 * time.Second)
	return d
}

// runBenthos runs the same config under plain Benthos: service.StreamBuilder
// on the global environment, default metrics, logging off.
func runBenthos(tb testing.TB, n int) time.Duration {
	sb := service.NewStreamBuilder()
	if err := sb.SetYAML(benchConfig(n)); err != nil {
		tb.Fatal(err)
	}
	if err := sb.SetLoggerYAML("level: none"); err != nil {
		tb.Fatal(err)
	}
	start := time.Now()
	strm, err := sb.Build()
	if err != nil {
		tb.Fatal(err)
	}
	if err := strm.Run(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return time.Since(start)
}

// BenchmarkGenerateMappingDrop compares weir with plain Benthos in one run.
// The two alternate round by round, so load on a shared machine hits both
// alike; each round processes b.N messages per side and the medians are
// reported (msgs/s each, and weir's share of Benthos's throughput).
func BenchmarkGenerateMappingDrop(b *testing.B) {
	env, err := NewEnvironment(Options{Logger: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	const rounds = 5
	var weir, plain []float64
	b.ResetTimer()
	for i := 0; i < rounds; i++ {
		weir = append(weir, float64(b.N)/runWeir(b, env, b.N).Seconds())
		plain = append(plain, float64(b.N)/runBenthos(b, b.N).Seconds())
	}
	b.StopTimer()
	mw, mp := median(weir), median(plain)
	b.ReportMetric(mw, "weir_msgs/s")
	b.ReportMetric(mp, "benthos_msgs/s")
	b.ReportMetric(100*mw/mp, "weir_%_of_benthos")
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}
