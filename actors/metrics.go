package actors

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are weir's engine metrics, registered on the Engine's registry (one
// per Engine, so tests never share global state).
type metrics struct {
	eventsIn   *prometheus.CounterVec
	bytesIn    *prometheus.CounterVec
	eventsOut  *prometheus.CounterVec
	bytesOut   *prometheus.CounterVec
	appendTime prometheus.Histogram
	batchSize  prometheus.Histogram
	endOffset  *prometheus.GaugeVec
	groupLag   *prometheus.GaugeVec
}

func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	m := &metrics{
		eventsIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weir_topic_events_in_total", Help: "Events durably appended, per topic.",
		}, []string{"namespace", "topic"}),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weir_topic_bytes_in_total", Help: "Body bytes durably appended, per topic.",
		}, []string{"namespace", "topic"}),
		eventsOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weir_topic_events_out_total", Help: "Events read (fetch, poll, time-range read), per topic.",
		}, []string{"namespace", "topic"}),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weir_topic_bytes_out_total", Help: "Body bytes read, per topic.",
		}, []string{"namespace", "topic"}),
		appendTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "weir_partition_append_fsync_seconds",
			Help:    "Time from the write of the first batch of a group commit to the end of the sync that made it durable.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 16),
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "weir_partition_batch_events",
			Help:    "Events made durable by one group commit (one sync).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12),
		}),
		endOffset: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "weir_partition_end_offset", Help: "Next offset to be written, per partition.",
		}, []string{"namespace", "topic", "partition"}),
		groupLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "weir_group_lag_events", Help: "End offset minus committed offset, per group partition.",
		}, []string{"namespace", "group", "topic", "partition"}),
	}
	for _, c := range []prometheus.Collector{m.eventsIn, m.bytesIn, m.eventsOut, m.bytesOut,
		m.appendTime, m.batchSize, m.endOffset, m.groupLag} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// forgetTopic drops a deleted topic's label sets so /metrics does not keep
// reporting a topic that no longer exists.
func (m *metrics) forgetTopic(ns, topic string) {
	l := prometheus.Labels{"namespace": ns, "topic": topic}
	m.eventsIn.Delete(l)
	m.bytesIn.Delete(l)
	m.eventsOut.Delete(l)
	m.bytesOut.Delete(l)
	m.endOffset.DeletePartialMatch(l)
	m.groupLag.DeletePartialMatch(l)
}
