package pipelines

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benthosdev/benthos/v4/public/service"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/weirflow/weir/plugins"
)

// statsExporterName is weir's one Benthos metrics exporter. Every stream
// incarnation gets its own sink through it; the same sinks feed
// /streams/{id}/stats (JSON) and Prometheus /metrics.
const statsExporterName = "weir_stats"

// timerSampleSize bounds the memory of one timer: percentiles are computed
// over the most recent samples.
const timerSampleSize = 1024

// statsSink holds one stream incarnation's metrics.
type statsSink struct {
	stream  string
	started time.Time
	onPanic func()

	mu       sync.Mutex
	counters map[string]*counterVal
	gauges   map[string]*gaugeVal
	timers   map[string]*timerVal
	ended    atomic.Int64 // uptime in ns frozen at the end, 0 while running
}

type series struct {
	name   string
	labels []labelPair
	key    string
}

type labelPair struct{ k, v string }

// isResource reports a series of a shared resource's proxy (path
// root.<kind>_resources): the streams API leaves resources out of a
// stream's stats.
func (s series) isResource() bool {
	for _, l := range s.labels {
		if l.k == "path" {
			return strings.HasPrefix(l.v, "root.") && strings.Contains(l.v, "_resources")
		}
	}
	return false
}

type counterVal struct {
	series
	v atomic.Int64
}

type gaugeVal struct {
	series
	v atomic.Int64
}

type timerVal struct {
	series
	mu      sync.Mutex
	samples []int64
	next    int
	count   int64
	sum     int64
}

func newStatsSink(stream string, onPanic func()) *statsSink {
	return &statsSink{
		stream:   stream,
		started:  time.Now(),
		onPanic:  onPanic,
		counters: map[string]*counterVal{},
		gauges:   map[string]*gaugeVal{},
		timers:   map[string]*timerVal{},
	}
}

// makeSeries renders name{k1="v1",...} with label names sorted and values
// quoted Go-style (ASCII escapes), the streams API's stats key format.
func makeSeries(name string, keys, values []string) series {
	ls := make([]labelPair, 0, len(keys))
	for i, k := range keys {
		v := ""
		if i < len(values) {
			v = values[i]
		}
		ls = append(ls, labelPair{k, v})
	}
	sort.SliceStable(ls, func(i, j int) bool { return ls[i].k < ls[j].k })
	var b strings.Builder
	b.WriteString(name)
	if len(ls) > 0 {
		b.WriteByte('{')
		for i, l := range ls {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(l.k)
			b.WriteByte('=')
			b.WriteString(strconv.QuoteToASCII(l.v))
		}
		b.WriteByte('}')
	}
	return series{name: name, labels: ls, key: b.String()}
}

func (s *statsSink) counter(name string, keys, values []string) *counterVal {
	return seriesFor(s, s.counters, makeSeries(name, keys, values), func(sr series) *counterVal { return &counterVal{series: sr} })
}

func (s *statsSink) gauge(name string, keys, values []string) *gaugeVal {
	return seriesFor(s, s.gauges, makeSeries(name, keys, values), func(sr series) *gaugeVal { return &gaugeVal{series: sr} })
}

func (s *statsSink) timer(name string, keys, values []string) *timerVal {
	return seriesFor(s, s.timers, makeSeries(name, keys, values), func(sr series) *timerVal { return &timerVal{series: sr} })
}

// seriesFor returns the metric of one series, creating it on first use: a
// Benthos component asks for its metrics once, at construction, and two
// components with the same name and labels share one series.
func seriesFor[T any](s *statsSink, m map[string]*T, sr series, mk func(series) *T) *T {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := m[sr.key]
	if !ok {
		v = mk(sr)
		m[sr.key] = v
	}
	return v
}

func (t *timerVal) record(v int64) {
	t.mu.Lock()
	if len(t.samples) < timerSampleSize {
		t.samples = append(t.samples, v)
	} else {
		t.samples[t.next] = v
		t.next = (t.next + 1) % timerSampleSize
	}
	t.count++
	t.sum += v
	t.mu.Unlock()
}

// quantiles returns the p50/p90/p99 of the recent samples (linear
// interpolation between ranks), and the total count and sum.
func (t *timerVal) quantiles() (q [3]float64, count, sum int64) {
	t.mu.Lock()
	s := append([]int64(nil), t.samples...)
	count, sum = t.count, t.sum
	t.mu.Unlock()
	if len(s) == 0 {
		return q, count, sum
	}
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	for i, p := range []float64{0.5, 0.9, 0.99} {
		pos := p * float64(len(s)+1)
		switch {
		case pos < 1:
			q[i] = float64(s[0])
		case pos >= float64(len(s)):
			q[i] = float64(s[len(s)-1])
		default:
			lo := s[int(pos)-1]
			hi := s[int(pos)]
			q[i] = float64(lo) + (pos-float64(int(pos)))*float64(hi-lo)
		}
	}
	return q, count, sum
}

// freeze stops the uptime clock (the incarnation ended).
func (s *statsSink) freeze(at time.Time) {
	d := at.Sub(s.started)
	if d <= 0 {
		d = 1
	}
	s.ended.CompareAndSwap(0, int64(d))
}

func (s *statsSink) uptime() time.Duration {
	if e := s.ended.Load(); e != 0 {
		return time.Duration(e)
	}
	return time.Since(s.started)
}

// series copies the sink's metrics out under the lock, so rendering (JSON
// stats or Prometheus) never holds it while components record.
func (s *statsSink) series() ([]*counterVal, []*gaugeVal, []*timerVal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := make([]*counterVal, 0, len(s.counters))
	for _, v := range s.counters {
		cs = append(cs, v)
	}
	gs := make([]*gaugeVal, 0, len(s.gauges))
	for _, v := range s.gauges {
		gs = append(gs, v)
	}
	ts := make([]*timerVal, 0, len(s.timers))
	for _, v := range s.timers {
		ts = append(ts, v)
	}
	return cs, gs, ts
}

// Snapshot renders the streams-mode stats object: counters and gauges as
// integers, timers as {p50,p90,p99}, plus uptime_ns.
func (s *statsSink) Snapshot() map[string]any {
	out := map[string]any{}
	cs, gs, ts := s.series()
	for _, c := range cs {
		if c.name == plugins.PanicMetric || c.isResource() {
			continue
		}
		out[c.key] = c.v.Load()
	}
	for _, g := range gs {
		if g.isResource() {
			continue
		}
		out[g.key] = g.v.Load()
	}
	for _, t := range ts {
		if t.isResource() {
			continue
		}
		q, _, _ := t.quantiles()
		out[t.key] = map[string]float64{"p50": q[0], "p90": q[1], "p99": q[2]}
	}
	out["uptime_ns"] = s.uptime().Nanoseconds()
	return out
}

// exporter is the service.MetricsExporter of one incarnation.
type exporter struct {
	env  *Environment
	sink *statsSink
}

type counterFn func(int64)

func (f counterFn) Incr(n int64) { f(n) }

type timerFn func(int64)

func (f timerFn) Timing(n int64) { f(n) }

type gaugeSet struct{ g *gaugeVal }

func (g gaugeSet) Set(v int64) { g.g.v.Store(v) }

func (e *exporter) NewCounterCtor(name string, labelKeys ...string) service.MetricsExporterCounterCtor {
	if token, ok := strings.CutPrefix(name, identityMetricPrefix); ok {
		// A component asking which stream it belongs to (see
		// streamIdentity); not a real series.
		e.env.identities.Store(token, e.sink.stream)
		return func(...string) service.MetricsExporterCounter { return counterFn(func(int64) {}) }
	}
	return func(labelValues ...string) service.MetricsExporterCounter {
		c := e.sink.counter(name, labelKeys, labelValues)
		if name == plugins.PanicMetric {
			return counterFn(func(n int64) {
				c.v.Add(n)
				if e.sink.onPanic != nil {
					e.sink.onPanic()
				}
			})
		}
		return counterFn(func(n int64) { c.v.Add(n) })
	}
}

func (e *exporter) NewTimerCtor(name string, labelKeys ...string) service.MetricsExporterTimerCtor {
	return func(labelValues ...string) service.MetricsExporterTimer {
		t := e.sink.timer(name, labelKeys, labelValues)
		return timerFn(t.record)
	}
}

func (e *exporter) NewGaugeCtor(name string, labelKeys ...string) service.MetricsExporterGaugeCtor {
	return func(labelValues ...string) service.MetricsExporterGauge {
		return gaugeSet{e.sink.gauge(name, labelKeys, labelValues)}
	}
}

// Close keeps the values: a finished stream still answers its stats.
func (e *exporter) Close(context.Context) error { return nil }

// HandlerFunc serves the sink as JSON on the stream's own mux (/stats).
func (e *exporter) HandlerFunc() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, err := json.Marshal(e.sink.Snapshot())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}
}

func (env *Environment) registerStatsExporter() error {
	spec := service.NewConfigSpec().
		Summary("weir's internal metrics exporter: per-stream stats and Prometheus series.").
		Field(service.NewStringField("sink"))
	return env.svc.RegisterMetricsExporter(statsExporterName, spec,
		func(conf *service.ParsedConfig, _ *service.Logger) (service.MetricsExporter, error) {
			token, err := conf.FieldString("sink")
			if err != nil {
				return nil, err
			}
			v, ok := env.sinks.Load(token)
			if !ok {
				return nil, fmt.Errorf("unknown metrics sink %q", token)
			}
			return &exporter{env: env, sink: v.(*statsSink)}, nil
		})
}

// Collector returns a Prometheus collector for the metrics of every current
// stream incarnation (Benthos names, labels label/path/stream). Series of a
// deleted stream disappear; a replaced stream's counters restart from zero.
func (env *Environment) Collector() prometheus.Collector { return (*promCollector)(env) }

type promCollector Environment

func (c *promCollector) Describe(chan<- *prometheus.Desc) {}

func (c *promCollector) Collect(ch chan<- prometheus.Metric) {
	env := (*Environment)(c)
	env.mu.Lock()
	sinks := make([]*statsSink, 0, len(env.current))
	for _, s := range env.current {
		sinks = append(sinks, s)
	}
	env.mu.Unlock()
	// One metric family must keep one label set: the first series of a name
	// fixes it and any series with other label names is skipped.
	shapes := map[string]string{}
	ok := func(sr series) ([]string, []string, bool) {
		ks := make([]string, len(sr.labels))
		vs := make([]string, len(sr.labels))
		for i, l := range sr.labels {
			ks[i], vs[i] = l.k, l.v
		}
		shape := strings.Join(ks, ",")
		if prev, seen := shapes[sr.name]; seen && prev != shape {
			return nil, nil, false
		}
		shapes[sr.name] = shape
		return ks, vs, true
	}
	for _, s := range sinks {
		cs, gs, ts := s.series()
		for _, v := range cs {
			if ks, vs, good := ok(v.series); good {
				m, err := prometheus.NewConstMetric(prometheus.NewDesc(v.name, "Benthos counter.", ks, nil), prometheus.CounterValue, float64(v.v.Load()), vs...)
				if err == nil {
					ch <- m
				}
			}
		}
		for _, v := range gs {
			if ks, vs, good := ok(v.series); good {
				m, err := prometheus.NewConstMetric(prometheus.NewDesc(v.name, "Benthos gauge.", ks, nil), prometheus.GaugeValue, float64(v.v.Load()), vs...)
				if err == nil {
					ch <- m
				}
			}
		}
		for _, v := range ts {
			if ks, vs, good := ok(v.series); good {
				q, count, sum := v.quantiles()
				m, err := prometheus.NewConstSummary(prometheus.NewDesc(v.name, "Benthos timer (ns).", ks, nil),
					uint64(count), float64(sum), map[float64]float64{0.5: q[0], 0.9: q[1], 0.99: q[2]}, vs...)
				if err == nil {
					ch <- m
				}
			}
		}
	}
}
