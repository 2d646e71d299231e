package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	ucli "github.com/urfave/cli/v2"
)

// `weir bench` is a load generator in the manner of `nats bench`. It speaks
// only the PolarStreams REST API (NDJSON produce, register/poll/goodbye), so
// the same command measures any PolarStreams-compatible server.

// benchDrainTimeout bounds how long e2e consumers keep polling for events
// still in flight after the producers stop.
const benchDrainTimeout = 5 * time.Second

// benchMinSize is the smallest event: the JSON envelope carrying the send
// time, which e2e needs to measure latency.
const benchMinSize = 64

func benchFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringFlag{Name: "url", Value: DefaultURL, EnvVars: []string{"WEIR_URL"}, Usage: "base `URL` of the PolarStreams API"},
		&ucli.BoolFlag{Name: "json", Usage: "print the report as JSON"},
		&ucli.IntFlag{Name: "clients", Value: 4, Usage: "concurrent producers (consume: consumers)"},
		&ucli.IntFlag{Name: "consumers", Value: 1, Usage: "e2e: concurrent consumers in one group"},
		&ucli.IntFlag{Name: "batch", Value: 100, Usage: "events per produce request"},
		&ucli.IntFlag{Name: "size", Value: 128, Usage: fmt.Sprintf("event size in `BYTES` (at least %d)", benchMinSize)},
		&ucli.IntFlag{Name: "rate", Usage: "total events/s over all producers (0: as fast as possible)"},
		&ucli.DurationFlag{Name: "duration", Value: 10 * time.Second, Usage: "how long to produce (consume: the longest to read)"},
		&ucli.IntFlag{Name: "keys", Usage: "distinct partition keys, used round robin (0: keyless)"},
		&ucli.StringFlag{Name: "group", Usage: "consumer `GROUP` (default: a new group per run)"},
	}
}

// benchCommand is `weir bench produce|consume|e2e [TOPIC]`.
func benchCommand() *ucli.Command {
	mk := func(mode, usage string) *ucli.Command {
		return &ucli.Command{
			Name:      mode,
			Usage:     usage,
			ArgsUsage: "[TOPIC]",
			Flags:     benchFlags(),
			Action: func(c *ucli.Context) error {
				o, err := benchOptionsFrom(c, mode)
				if err != nil {
					return err
				}
				ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
				defer stop()
				r, err := RunBench(ctx, o)
				if err != nil {
					return err
				}
				if c.Bool("json") {
					return printJSON(c.App.Writer, r)
				}
				r.print(c.App.Writer)
				return nil
			},
		}
	}
	return &ucli.Command{
		Name:  "bench",
		Usage: "measure a PolarStreams-compatible server (weir or another)",
		Subcommands: []*ucli.Command{
			mk("produce", "produce events as fast as allowed; latency is the durable ack of each request"),
			mk("consume", "read a topic from the start in a new group; latency is each poll"),
			mk("e2e", "produce and consume at once; latency is from produce to poll receipt"),
		},
	}
}

// BenchOptions configure one run of RunBench.
type BenchOptions struct {
	Mode      string // produce, consume or e2e
	URL       string
	Topic     string
	Clients   int
	Consumers int
	Batch     int
	Size      int
	Rate      int
	Duration  time.Duration
	Keys      int
	Group     string
}

func benchOptionsFrom(c *ucli.Context, mode string) (BenchOptions, error) {
	o := BenchOptions{
		Mode: mode, URL: c.String("url"), Topic: "bench",
		Clients: c.Int("clients"), Consumers: c.Int("consumers"), Batch: c.Int("batch"), Size: c.Int("size"),
		Rate: c.Int("rate"), Duration: c.Duration("duration"), Keys: c.Int("keys"), Group: c.String("group"),
	}
	switch c.Args().Len() {
	case 0:
	case 1:
		o.Topic = c.Args().First()
	default:
		return o, usageError{fmt.Errorf("bench %s takes at most one TOPIC argument", mode)}
	}
	switch {
	case o.Clients < 1 || o.Consumers < 1:
		return o, usageError{fmt.Errorf("--clients and --consumers must be at least 1")}
	case o.Batch < 1:
		return o, usageError{fmt.Errorf("--batch must be at least 1")}
	case o.Size < benchMinSize:
		return o, usageError{fmt.Errorf("--size must be at least %d bytes (the event carries its send time)", benchMinSize)}
	case o.Rate < 0 || o.Keys < 0:
		return o, usageError{fmt.Errorf("--rate and --keys must not be negative")}
	case o.Duration <= 0:
		return o, usageError{fmt.Errorf("--duration must be positive")}
	case o.Batch*(o.Size+1) > defaultProduceBatchBytes:
		return o, usageError{fmt.Errorf("--batch × --size must stay under %d bytes (PolarStreams' request limit)", defaultProduceBatchBytes)}
	}
	return o, nil
}

// benchRun holds the shared counters of one run.
type benchRun struct {
	o        BenchOptions
	cl       *Client
	events   atomic.Int64
	consumed atomic.Int64
	bytes    atomic.Int64
	requests atomic.Int64
	errors   atomic.Int64

	mu       sync.Mutex
	firstErr string
	samples  []time.Duration
}

func (b *benchRun) fail(err error) {
	b.errors.Add(1)
	b.mu.Lock()
	if b.firstErr == "" {
		b.firstErr = err.Error()
	}
	b.mu.Unlock()
}

func (b *benchRun) addSamples(s []time.Duration) {
	b.mu.Lock()
	b.samples = append(b.samples, s...)
	b.mu.Unlock()
}

// RunBench runs one benchmark until its duration ends or ctx is cancelled.
func RunBench(ctx context.Context, o BenchOptions) (BenchReport, error) {
	n := o.Clients + o.Consumers
	hc := &http.Client{Transport: &http.Transport{MaxIdleConns: 2 * n, MaxIdleConnsPerHost: 2 * n, IdleConnTimeout: 30 * time.Second}}
	cl, err := NewClient(o.URL, hc)
	if err != nil {
		return BenchReport{}, err
	}
	b := &benchRun{o: o, cl: cl}
	r := BenchReport{Mode: o.Mode, URL: o.URL, Topic: o.Topic, Clients: o.Clients, Batch: o.Batch, Size: o.Size, Keys: o.Keys, Rate: o.Rate, LatencyOf: "request"}
	if o.Group == "" {
		o.Group = fmt.Sprintf("bench-%d", time.Now().UnixNano())
		b.o.Group = o.Group
	}
	var elapsed time.Duration
	switch o.Mode {
	case "produce":
		elapsed = b.produce(ctx)
		r.Events = b.events.Load()
	case "consume":
		r.Batch, r.Size, r.Keys, r.Rate = 0, 0, 0, 0
		elapsed, err = b.consumeAll(ctx, o.Clients, "startFromEarliest", nil)
		r.Events = b.consumed.Load()
	case "e2e":
		r.Consumers, r.LatencyOf = o.Consumers, "end_to_end"
		elapsed, err = b.e2e(ctx)
		r.Events, r.Consumed = b.events.Load(), b.consumed.Load()
	default:
		return r, usageError{fmt.Errorf("unknown bench mode %q", o.Mode)}
	}
	if err != nil {
		return r, err
	}
	r.Bytes, r.Requests, r.Errors, r.FirstError = b.bytes.Load(), b.requests.Load(), b.errors.Load(), b.firstErr
	if r.Requests == 0 && r.Errors > 0 {
		return r, fmt.Errorf("every request failed: %s", r.FirstError)
	}
	r.finish(elapsed, b.samples)
	return r, nil
}

// payload builds one event of exactly size bytes: a JSON object with the
// send time in ns, so PolarStreams splices it back verbatim on poll.
func payload(size int, sent time.Time, client, seq int) []byte {
	return appendPayload(make([]byte, 0, size), size, sent, client, seq)
}

// appendPayload appends payload's event to dst, without allocating when
// dst has room: producers build a whole request body this way.
func appendPayload(dst []byte, size int, sent time.Time, client, seq int) []byte {
	start := len(dst)
	dst = append(dst, `{"t":`...)
	dst = strconv.AppendInt(dst, sent.UnixNano(), 10)
	dst = append(dst, `,"c":`...)
	dst = strconv.AppendInt(dst, int64(client), 10)
	dst = append(dst, `,"s":`...)
	dst = strconv.AppendInt(dst, int64(seq), 10)
	dst = append(dst, `,"p":"`...)
	for pad := size - (len(dst) - start) - 2; pad > 0; pad-- {
		dst = append(dst, 'x')
	}
	return append(dst, '"', '}')
}

// produce runs o.Clients producers for o.Duration and returns the elapsed
// time. Each request is timed from send to its (durable) answer.
func (b *benchRun) produce(ctx context.Context) time.Duration {
	ctx, cancel := context.WithTimeout(ctx, b.o.Duration)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < b.o.Clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.producer(ctx, i, start)
		}()
	}
	wg.Wait()
	return time.Since(start)
}

func (b *benchRun) producer(ctx context.Context, client int, start time.Time) {
	var samples []time.Duration
	defer func() { b.addSamples(samples) }()
	perClient := float64(b.o.Rate) / float64(b.o.Clients)
	var body []byte
	sent := 0
	for seq := 0; ctx.Err() == nil; seq++ {
		if perClient > 0 {
			// Pace by schedule, not by sleeping a fixed gap, so slow
			// answers do not lower the offered rate.
			due := start.Add(time.Duration(float64(sent) / perClient * float64(time.Second)))
			if wait := time.Until(due); wait > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(wait):
				}
			}
		}
		body = body[:0]
		now := time.Now()
		for i := 0; i < b.o.Batch; i++ {
			body = appendPayload(body, b.o.Size, now, client, seq*b.o.Batch+i)
			body = append(body, '\n')
		}
		r := request{method: http.MethodPost, path: "/v1/topic/" + seg(b.o.Topic) + "/messages", body: bytes.NewReader(body), contentType: "application/x-ndjson"}
		if b.o.Keys > 0 {
			r.query = url.Values{"partitionKey": {"key-" + strconv.Itoa((client+seq*b.o.Clients)%b.o.Keys)}}
		}
		t0 := time.Now()
		// The run's end stops new requests, never one in flight: the server
		// may store a cancelled request, and an uncounted event would make
		// consume and e2e counts disagree with produce.
		_, _, err := b.cl.do(context.WithoutCancel(ctx), r)
		if err != nil {
			b.fail(err)
			continue
		}
		samples = append(samples, time.Since(t0))
		sent += b.o.Batch
		b.requests.Add(1)
		b.events.Add(int64(b.o.Batch))
		b.bytes.Add(int64(b.o.Batch * b.o.Size))
	}
}

// consumer is one registered PolarStreams consumer of the bench group.
type consumer struct{ id string }

func (b *benchRun) register(ctx context.Context, n int, policy string) ([]consumer, error) {
	var cs []consumer
	for i := 0; i < n; i++ {
		c := consumer{id: fmt.Sprintf("%s-c%d", b.o.Group, i)}
		q := url.Values{"consumerId": {c.id}, "group": {b.o.Group}, "topic": {b.o.Topic}, "onNewGroup": {policy}}
		if _, _, err := b.cl.do(ctx, request{method: http.MethodPut, path: "/v1/consumer/register", query: q}); err != nil {
			b.goodbye(cs)
			return nil, err
		}
		cs = append(cs, c)
	}
	return cs, nil
}

func (b *benchRun) goodbye(cs []consumer) {
	for _, c := range cs {
		b.cl.do(context.Background(), request{method: http.MethodPost, path: "/v1/consumer/goodbye", query: url.Values{"consumerId": {c.id}}})
	}
}

// consumeAll registers n consumers and polls until the topic is drained (or
// done reports everything arrived), or until o.Duration passes. With e2e
// set, latencies are end to end; otherwise each poll is timed.
func (b *benchRun) consumeAll(ctx context.Context, n int, policy string, e2e *e2eState) (time.Duration, error) {
	cs, err := b.register(ctx, n, policy)
	if err != nil {
		return 0, err
	}
	defer b.goodbye(cs)
	if e2e != nil {
		close(e2e.registered)
	}
	limit := b.o.Duration
	if e2e != nil {
		limit += benchDrainTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	start := time.Now()
	var last atomic.Int64 // ns since start of the last poll that returned data
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.poller(ctx, c, e2e, start, &last)
		}()
	}
	wg.Wait()
	if e2e == nil && last.Load() > 0 {
		// A drained topic ends the run: measure up to the last data.
		return time.Duration(last.Load()), nil
	}
	return time.Since(start), nil
}

type e2eState struct {
	registered    chan struct{}
	producersDone atomic.Bool
}

func (b *benchRun) poller(ctx context.Context, c consumer, e2e *e2eState, start time.Time, last *atomic.Int64) {
	var samples []time.Duration
	defer func() { b.addSamples(samples) }()
	idle := 0
	for ctx.Err() == nil {
		q := url.Values{"consumerId": {c.id}}
		if e2e != nil {
			q.Set("wait", "500ms")
		}
		t0 := time.Now()
		resp, body, err := b.cl.do(ctx, request{method: http.MethodPost, path: "/v1/consumer/poll", query: q, header: http.Header{"Accept": {"application/json"}}})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			b.fail(err)
			continue
		}
		b.requests.Add(1)
		now := time.Now()
		if resp.StatusCode == http.StatusNoContent {
			idle++
			// Without e2e, the topic is drained once every consumer sees
			// nothing new twice; with e2e, once producers are done and all
			// produced events arrived (or the drain timeout passes).
			if e2e == nil && idle >= 2 {
				return
			}
			if e2e != nil && e2e.producersDone.Load() && b.consumed.Load() >= b.events.Load() {
				return
			}
			continue
		}
		idle = 0
		var events, size int64
		err = eachPollValue(body, func(v []byte) {
			events++
			size += int64(len(v))
			if e2e == nil {
				return
			}
			var p struct {
				T int64 `json:"t"`
			}
			if json.Unmarshal(v, &p) == nil && p.T > 0 {
				samples = append(samples, now.Sub(time.Unix(0, p.T)))
			}
		})
		if err != nil {
			b.fail(err)
			continue
		}
		if e2e == nil {
			samples = append(samples, now.Sub(t0))
			b.bytes.Add(size)
		}
		b.consumed.Add(events)
		last.Store(int64(now.Sub(start)))
		if e2e != nil && e2e.producersDone.Load() && b.consumed.Load() >= b.events.Load() {
			return
		}
	}
}

// e2e registers the consumers first (at the end of the topic), then
// produces for o.Duration while they poll with a long-poll wait.
func (b *benchRun) e2e(ctx context.Context) (time.Duration, error) {
	st := &e2eState{registered: make(chan struct{})}
	var consumeErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, consumeErr = b.consumeAll(ctx, b.o.Consumers, "startFromLatest", st)
	}()
	select {
	case <-st.registered:
	case <-done:
		return 0, consumeErr
	}
	start := time.Now()
	// Producer request latencies are not the e2e measure: keep them apart.
	pb := &benchRun{o: b.o, cl: b.cl}
	pctx, cancel := context.WithTimeout(ctx, b.o.Duration)
	var wg sync.WaitGroup
	for i := 0; i < b.o.Clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pb.producer(pctx, i, start)
		}()
	}
	wg.Wait()
	cancel()
	b.events.Store(pb.events.Load())
	b.bytes.Add(pb.bytes.Load())
	b.requests.Add(pb.requests.Load())
	b.errors.Add(pb.errors.Load())
	if pb.firstErr != "" && b.firstErr == "" {
		b.firstErr = pb.firstErr
	}
	st.producersDone.Store(true)
	<-done
	if consumeErr != nil {
		return 0, consumeErr
	}
	if b.consumed.Load() < b.events.Load() {
		b.fail(errors.New("not every produced event was consumed before the drain timeout"))
	}
	return time.Since(start), nil
}
