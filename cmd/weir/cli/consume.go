package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"

	ucli "github.com/urfave/cli/v2"

	"github.com/weirflow/weir/config"
	api "github.com/weirflow/weir/http"
)

// followInterval is how often `consume --follow` without a group asks again
// when every partition is drained (the admin read route has no long poll).
const followInterval = 250 * time.Millisecond

// groupPollWait is the long-poll wait of `consume --group --follow`. It also
// bounds how long Ctrl-C waits for the poll in flight, which is allowed to
// finish so that what it delivered is printed and committed, never lost.
const groupPollWait = time.Second

// consumeCommand is `weir consume TOPIC`. With --group it is a PolarStreams
// consumer (register, poll, commit, goodbye) in namespace default; without,
// it reads partitions by offset through the admin API and commits nothing.
func consumeCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "consume",
		Usage:     "print a topic's events",
		ArgsUsage: "TOPIC",
		Flags: append(clientFlags(),
			&ucli.StringFlag{Name: "group", Aliases: []string{"g"}, Usage: "consumer `GROUP` (PolarStreams; commits what it prints)"},
			&ucli.StringFlag{Name: "from", Value: "earliest", Usage: "`earliest`, `latest` or @TIME (RFC 3339 or Unix ms; without --group only)"},
			&ucli.IntFlag{Name: "count", Aliases: []string{"n"}, Usage: "stop after `N` events (0: no limit)"},
			&ucli.StringFlag{Name: "format", Aliases: []string{"f"}, Usage: "output: a Go `TEMPLATE` over .Topic .Partition .Offset .Timestamp .Time .Key .Headers .Value, or json (default: the value)"},
			&ucli.BoolFlag{Name: "follow", Usage: "wait for new events instead of stopping at the end"},
		),
		Action: func(c *ucli.Context) error {
			topic, err := oneArg(c, "TOPIC")
			if err != nil {
				return err
			}
			o := consumeOptions{
				Namespace: c.String("namespace"),
				Topic:     topic,
				Group:     c.String("group"),
				Count:     c.Int("count"),
				Follow:    c.Bool("follow"),
			}
			if o.Count < 0 {
				return usageError{fmt.Errorf("--count must not be negative")}
			}
			if err := o.parseFrom(c.String("from")); err != nil {
				return err
			}
			format := c.String("format")
			if c.Bool("json") {
				format = "json"
			}
			printer, err := newEventPrinter(c.App.Writer, format)
			if err != nil {
				return err
			}
			// The first Ctrl-C stops consuming cleanly (the poll in flight
			// finishes, then commit and goodbye); NotifyContext's stop
			// restores the default, so a second Ctrl-C kills the process.
			stopCtx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			return withClient(c, func(cl *Client) error {
				if o.Group != "" {
					return consumeGroup(stopCtx, cl, o, printer)
				}
				return consumeNoGroup(stopCtx, cl, o, printer)
			})
		},
	}
}

type consumeOptions struct {
	Namespace string
	Topic     string
	Group     string
	Count     int
	Follow    bool
	Earliest  bool
	// FromTime starts at the first event appended at or after FromMicros.
	FromTime   bool
	FromMicros int64
}

func (o *consumeOptions) parseFrom(s string) error {
	switch {
	case s == "earliest":
		o.Earliest = true
	case s == "latest":
	case strings.HasPrefix(s, "@"):
		v := s[1:]
		o.FromTime = true
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			o.FromMicros = t.UnixMicro()
		} else if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms >= 0 {
			o.FromMicros = ms * 1000
		} else {
			return usageError{fmt.Errorf("--from %q: want @2006-01-02T15:04:05Z or @<unix ms>", s)}
		}
		if o.Group != "" {
			return usageError{fmt.Errorf("--from @TIME cannot be used with --group: PolarStreams groups start at earliest or latest")}
		}
	default:
		return usageError{fmt.Errorf("--from %q: want earliest, latest or @TIME", s)}
	}
	if o.Group != "" && o.Namespace != config.DefaultNamespace {
		return usageError{fmt.Errorf("--group uses the PolarStreams API, which serves only namespace %s", config.DefaultNamespace)}
	}
	return nil
}

// ConsumedEvent is one printed event; --format templates see its fields.
// Timestamp (µs), Key and Headers are unknown (zero) for --group reads,
// which PolarStreams delivers as bare values.
type ConsumedEvent struct {
	Topic     string            `json:"topic"`
	Partition int               `json:"partition"`
	Offset    int64             `json:"offset"`
	Timestamp int64             `json:"timestamp,omitempty"`
	Key       string            `json:"key,omitempty"`
	Headers   map[string]string `json:"headers,omitempty"`
	Value     string            `json:"value"`
}

// Time is the append time, for templates ({{.Time.Format "15:04:05"}}).
func (e ConsumedEvent) Time() time.Time { return time.UnixMicro(e.Timestamp).UTC() }

type eventPrinter func(ConsumedEvent) error

func newEventPrinter(w io.Writer, format string) (eventPrinter, error) {
	switch format {
	case "":
		return func(e ConsumedEvent) error {
			_, err := fmt.Fprintln(w, e.Value)
			return err
		}, nil
	case "json":
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		return func(e ConsumedEvent) error { return enc.Encode(e) }, nil
	}
	tmpl, err := template.New("format").Parse(unescapeFormat(format))
	if err != nil {
		return nil, usageError{fmt.Errorf("--format: %v", err)}
	}
	newline := !strings.HasSuffix(format, "\n") && !strings.HasSuffix(format, `\n`)
	return func(e ConsumedEvent) error {
		if err := tmpl.Execute(w, e); err != nil {
			return fmt.Errorf("--format: %w", err)
		}
		if newline {
			_, err := io.WriteString(w, "\n")
			return err
		}
		return nil
	}, nil
}

// unescapeFormat lets a shell user write \n and \t in --format.
func unescapeFormat(s string) string {
	return strings.NewReplacer(`\n`, "\n", `\t`, "\t").Replace(s)
}

// ---- without a group: the admin read route ----

func consumeNoGroup(stop context.Context, cl *Client, o consumeOptions, print eventPrinter) error {
	// Requests are not cancelled by Ctrl-C: a read has no side effects, but
	// finishing it keeps the output consistent. Between reads we check stop.
	ctx := context.WithoutCancel(stop)
	var t api.AdminTopic
	if err := cl.getJSON(ctx, adminPath(o.Namespace, "topics", seg(o.Topic)), nil, &t); err != nil {
		return err
	}
	next := make([]int64, len(t.Partitions))
	for i, p := range t.Partitions {
		switch {
		case o.FromTime:
			off, err := offsetForTime(ctx, cl, o, p, o.FromMicros)
			if err != nil {
				return err
			}
			next[i] = off
		case o.Earliest:
			next[i] = p.FirstOffset
		default:
			next[i] = p.NextOffset
		}
	}
	printed := 0
	for {
		got := 0
		for i, p := range t.Partitions {
			if stop.Err() != nil {
				return nil
			}
			max := 1000
			if o.Count > 0 {
				max = min(max, o.Count-printed)
			}
			f, err := fetch(ctx, cl, o, p.Partition, next[i], max)
			if err != nil {
				return err
			}
			for _, e := range f.Events {
				if err := print(consumedFromAdmin(o.Topic, e)); err != nil {
					return err
				}
				next[i] = e.Offset + 1
				printed++
				got++
			}
			if len(f.Events) == 0 && next[i] < f.FirstOffset {
				// Retention or truncate moved the start past us.
				next[i] = f.FirstOffset
			}
			if o.Count > 0 && printed >= o.Count {
				return nil
			}
		}
		if got > 0 {
			continue
		}
		if !o.Follow {
			return nil
		}
		select {
		case <-stop.Done():
			return nil
		case <-time.After(followInterval):
		}
	}
}

func fetch(ctx context.Context, cl *Client, o consumeOptions, partition int, offset int64, max int) (api.AdminFetch, error) {
	var f api.AdminFetch
	q := url.Values{"offset": {strconv.FormatInt(offset, 10)}, "max_events": {strconv.Itoa(max)}}
	err := cl.getJSON(ctx, adminPath(o.Namespace, "topics", seg(o.Topic), "partitions", strconv.Itoa(partition), "events"), q, &f)
	return f, err
}

// offsetForTime finds the first offset of partition p appended at or after
// us by binary search over single-event reads: append times grow with the
// offset within a partition, so O(log n) requests suffice.
func offsetForTime(ctx context.Context, cl *Client, o consumeOptions, p api.AdminPartition, us int64) (int64, error) {
	lo, hi := p.FirstOffset, p.NextOffset
	for lo < hi {
		mid := lo + (hi-lo)/2
		f, err := fetch(ctx, cl, o, p.Partition, mid, 1)
		if err != nil {
			return 0, err
		}
		if len(f.Events) == 0 {
			return hi, nil
		}
		e := f.Events[0]
		if e.Timestamp >= us {
			hi = min(mid, e.Offset)
		} else {
			lo = e.Offset + 1
		}
	}
	return lo, nil
}

func consumedFromAdmin(topic string, e api.AdminEvent) ConsumedEvent {
	out := ConsumedEvent{Topic: topic, Partition: e.Partition, Offset: e.Offset, Timestamp: e.Timestamp, Headers: e.Headers}
	switch {
	case e.Key != nil:
		out.Key = *e.Key
	case e.KeyBase64 != nil:
		out.Key = decodeB64(*e.KeyBase64)
	}
	switch {
	case e.Value != nil:
		out.Value = *e.Value
	case e.ValueBase64 != nil:
		out.Value = decodeB64(*e.ValueBase64)
	}
	if len(out.Headers) == 0 {
		out.Headers = nil
	}
	return out
}

func decodeB64(s string) string {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return s
	}
	return string(b)
}

// ---- with a group: PolarStreams register / poll / commit / goodbye ----

type pollItem struct {
	Topic       string            `json:"topic"`
	RangeIndex  int               `json:"rangeIndex"`
	StartOffset string            `json:"startOffset"`
	Values      []json.RawMessage `json:"values"`
}

func consumeGroup(stop context.Context, cl *Client, o consumeOptions, print eventPrinter) error {
	ctx := context.WithoutCancel(stop)
	host, _ := os.Hostname()
	id := fmt.Sprintf("weir-consume-%s-%d-%d", orDash(host), os.Getpid(), time.Now().UnixNano()%1e6)
	policy := "startFromLatest"
	if o.Earliest {
		policy = "startFromEarliest"
	}
	q := url.Values{"consumerId": {id}, "group": {o.Group}, "topic": {o.Topic}, "onNewGroup": {policy}}
	if _, _, err := cl.do(ctx, request{method: http.MethodPut, path: "/v1/consumer/register", query: q}); err != nil {
		return err
	}
	commit := true
	err := pollLoop(stop, ctx, cl, o, id, print, &commit)
	bye := url.Values{"consumerId": {id}}
	if !commit {
		// The last poll was printed only in part: leave its events
		// uncommitted so the group gets them again (at least once).
		bye.Set("commit", "false")
	}
	_, _, byeErr := cl.do(ctx, request{method: http.MethodPost, path: "/v1/consumer/goodbye", query: bye})
	return errors.Join(err, byeErr)
}

func pollLoop(stop, ctx context.Context, cl *Client, o consumeOptions, id string, print eventPrinter, commit *bool) error {
	printed := 0
	for stop.Err() == nil {
		q := url.Values{"consumerId": {id}}
		if o.Follow {
			q.Set("wait", groupPollWait.String())
		}
		resp, body, err := cl.do(ctx, request{method: http.MethodPost, path: "/v1/consumer/poll", query: q, header: http.Header{"Accept": {"application/json"}}})
		if err != nil {
			return err
		}
		if resp.StatusCode == http.StatusNoContent {
			if !o.Follow {
				return nil
			}
			if resp.Header.Get("Retry-After") == "5" {
				// Every partition is owned by other members; ask again later.
				select {
				case <-stop.Done():
				case <-time.After(groupPollWait):
				}
			}
			continue
		}
		var items []pollItem
		if err := json.Unmarshal(body, &items); err != nil {
			return fmt.Errorf("unexpected poll answer: %v", err)
		}
		for _, it := range items {
			start, _ := strconv.ParseInt(it.StartOffset, 10, 64)
			for i, raw := range it.Values {
				if o.Count > 0 && printed >= o.Count {
					*commit = false
					return nil
				}
				if err := print(ConsumedEvent{Topic: it.Topic, Partition: it.RangeIndex, Offset: start + int64(i), Value: pollValue(raw)}); err != nil {
					*commit = false
					return err
				}
				printed++
			}
		}
		if o.Count > 0 && printed >= o.Count {
			return nil
		}
	}
	return nil
}

// pollValue turns a poll value back into the event body: a JSON string is
// a body that was not one JSON value, anything else was spliced verbatim.
func pollValue(raw json.RawMessage) string {
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	}
	return string(raw)
}
