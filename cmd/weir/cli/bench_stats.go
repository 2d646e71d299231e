package cli

import (
	"fmt"
	"io"
	"math"
	"sort"
	"time"
)

// BenchReport is what `weir bench` prints (`--json` prints it as is).
type BenchReport struct {
	Mode      string `json:"mode"`
	URL       string `json:"url"`
	Topic     string `json:"topic"`
	Clients   int    `json:"clients"`
	Consumers int    `json:"consumers,omitempty"`
	Batch     int    `json:"batch"`
	Size      int    `json:"size"`
	Keys      int    `json:"keys"`
	Rate      int    `json:"rate"`
	// Seconds is the measured interval: from the first request to the last
	// answer that counted.
	Seconds float64 `json:"seconds"`
	// Events is what was produced (produce, e2e) or consumed (consume).
	Events int64 `json:"events"`
	// Consumed is what the e2e consumers received.
	Consumed     int64   `json:"consumed,omitempty"`
	Bytes        int64   `json:"bytes"`
	Requests     int64   `json:"requests"`
	Errors       int64   `json:"errors"`
	FirstError   string  `json:"first_error,omitempty"`
	EventsPerSec float64 `json:"events_per_sec"`
	MBPerSec     float64 `json:"mb_per_sec"`
	// LatencyOf says what was timed: "request" (a produce request until its
	// durable ack, or a poll) or "end_to_end" (produce start to poll receipt).
	LatencyOf string         `json:"latency_of"`
	Latency   LatencySummary `json:"latency_ms"`
}

// LatencySummary holds latency percentiles in milliseconds.
type LatencySummary struct {
	Count int64   `json:"count"`
	Min   float64 `json:"min"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p99_9"`
	Max   float64 `json:"max"`
	Mean  float64 `json:"mean"`
}

// summarize sorts samples in place and reads the nearest-rank percentiles.
func summarize(samples []time.Duration) LatencySummary {
	if len(samples) == 0 {
		return LatencySummary{}
	}
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	rank := func(q float64) time.Duration {
		i := int(math.Ceil(q*float64(len(samples)))) - 1
		return samples[max(0, min(i, len(samples)-1))]
	}
	var sum time.Duration
	for _, s := range samples {
		sum += s
	}
	return LatencySummary{
		Count: int64(len(samples)),
		Min:   ms(samples[0]),
		P50:   ms(rank(0.50)),
		P90:   ms(rank(0.90)),
		P99:   ms(rank(0.99)),
		P999:  ms(rank(0.999)),
		Max:   ms(samples[len(samples)-1]),
		Mean:  ms(sum / time.Duration(len(samples))),
	}
}

func (r *BenchReport) finish(elapsed time.Duration, samples []time.Duration) {
	r.Seconds = elapsed.Seconds()
	if r.Seconds > 0 {
		n := r.Events
		if r.Mode == "e2e" {
			n = r.Consumed
		}
		r.EventsPerSec = float64(n) / r.Seconds
		r.MBPerSec = float64(r.Bytes) / 1e6 / r.Seconds
	}
	r.Latency = summarize(samples)
}

func (r BenchReport) print(w io.Writer) {
	fmt.Fprintf(w, "weir bench %s %s (%s): %d clients", r.Mode, r.Topic, r.URL, r.Clients)
	if r.Consumers > 0 {
		fmt.Fprintf(w, ", %d consumers", r.Consumers)
	}
	if r.Mode != "consume" {
		fmt.Fprintf(w, ", batch %d, %d B events, %d keys", r.Batch, r.Size, r.Keys)
		if r.Rate > 0 {
			fmt.Fprintf(w, ", rate %d/s", r.Rate)
		}
	}
	fmt.Fprintf(w, ", %.2fs\n", r.Seconds)
	fmt.Fprintf(w, "  events:    %d", r.Events)
	if r.Mode == "e2e" {
		fmt.Fprintf(w, " produced, %d consumed", r.Consumed)
	}
	fmt.Fprintf(w, "\n  rate:      %.0f events/s, %.2f MB/s\n", r.EventsPerSec, r.MBPerSec)
	fmt.Fprintf(w, "  requests:  %d (%d errors)\n", r.Requests, r.Errors)
	if r.FirstError != "" {
		fmt.Fprintf(w, "  first error: %s\n", r.FirstError)
	}
	l := r.Latency
	fmt.Fprintf(w, "  latency (%s, ms): p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  (n=%d)\n",
		r.LatencyOf, l.P50, l.P90, l.P99, l.P999, l.Max, l.Count)
}
