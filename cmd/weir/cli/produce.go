package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	ucli "github.com/urfave/cli/v2"

	"github.com/weirflow/weir/config"
)

// Produce limits. PolarStreams refuses bodies above max_message_size
// (1 MiB by default), so a batch stays well below it.
const (
	defaultProduceBatch      = 500
	defaultProduceBatchBytes = 900 * 1024
)

// produceCommand is `weir produce TOPIC [FILE...]`: one event per non-empty
// line of stdin or the files. Keyed or plain events in namespace default go
// through PolarStreams' NDJSON produce (which creates a missing topic);
// events with headers, or in another namespace, through CDAP's text batch
// (the topic must exist). Each request is one atomic, durable write.
func produceCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "produce",
		Usage:     "append events to a topic, one per line of stdin or FILEs",
		ArgsUsage: "TOPIC [FILE...]",
		Flags: append(clientFlags(),
			&ucli.StringFlag{Name: "key", Aliases: []string{"k"}, Usage: "partition `KEY` stored with every event (PolarStreams, namespace default)"},
			&ucli.StringSliceFlag{Name: "header", Aliases: []string{"H"}, Usage: "event header `K=V` (repeatable; CDAP batch)"},
			&ucli.IntFlag{Name: "batch", Value: defaultProduceBatch, Usage: "events per request, at most"},
			&ucli.BoolFlag{Name: "progress", Usage: "show a progress line on stderr (default: when stderr is a terminal)"},
		),
		Action: func(c *ucli.Context) error {
			if c.Args().Len() < 1 {
				return usageError{fmt.Errorf("produce needs a TOPIC argument")}
			}
			opts := produceOptions{
				Namespace: c.String("namespace"),
				Topic:     c.Args().First(),
				Key:       c.String("key"),
				Batch:     c.Int("batch"),
				Progress:  isTerminal(c.App.ErrWriter),
			}
			if c.IsSet("progress") {
				opts.Progress = c.Bool("progress")
			}
			for _, h := range c.StringSlice("header") {
				k, v, ok := strings.Cut(h, "=")
				if !ok || k == "" {
					return usageError{fmt.Errorf("--header %q: want K=V", h)}
				}
				if opts.Headers == nil {
					opts.Headers = map[string]string{}
				}
				opts.Headers[k] = v
			}
			if opts.Batch < 1 {
				return usageError{fmt.Errorf("--batch must be at least 1")}
			}
			if opts.Key != "" && (len(opts.Headers) > 0 || opts.Namespace != config.DefaultNamespace) {
				return usageError{fmt.Errorf("--key needs namespace %s and no --header: keyed produce uses the PolarStreams API, which has neither namespaces nor headers", config.DefaultNamespace)}
			}
			inputs, err := openInputs(c.App.Reader, c.Args().Tail())
			if err != nil {
				return err
			}
			defer func() {
				for _, in := range inputs {
					if f, ok := in.(*os.File); ok && f != os.Stdin {
						f.Close()
					}
				}
			}()
			return withClient(c, func(cl *Client) error {
				res, err := runProduce(c.Context, cl, opts, io.MultiReader(inputs...), c.App.ErrWriter)
				if err != nil {
					return err
				}
				if c.Bool("json") {
					return printJSON(c.App.Writer, res)
				}
				_, err = fmt.Fprintf(c.App.Writer, "produced %d events (%s) to %s/%s in %d requests\n",
					res.Events, humanBytes(res.Bytes), res.Namespace, res.Topic, res.Requests)
				return err
			})
		},
	}
}

func openInputs(stdin io.Reader, names []string) ([]io.Reader, error) {
	if len(names) == 0 {
		return []io.Reader{stdin}, nil
	}
	var out []io.Reader
	for _, n := range names {
		if n == "-" {
			out = append(out, stdin)
			continue
		}
		f, err := os.Open(n)
		if err != nil {
			for _, o := range out {
				if f, ok := o.(*os.File); ok && f != os.Stdin {
					f.Close()
				}
			}
			return nil, err
		}
		// A file without a final newline must not glue its last line to
		// the next file's first one.
		out = append(out, f, strings.NewReader("\n"))
	}
	return out, nil
}

type produceOptions struct {
	Namespace string
	Topic     string
	Key       string
	Headers   map[string]string
	Batch     int
	Progress  bool
}

// ProduceResult is what `weir produce --json` prints.
type ProduceResult struct {
	Namespace string  `json:"namespace"`
	Topic     string  `json:"topic"`
	API       string  `json:"api"`
	Events    int64   `json:"events"`
	Bytes     int64   `json:"bytes"`
	Requests  int64   `json:"requests"`
	Seconds   float64 `json:"seconds"`
}

func runProduce(ctx context.Context, cl *Client, o produceOptions, in io.Reader, progressTo io.Writer) (ProduceResult, error) {
	res := ProduceResult{Namespace: o.Namespace, Topic: o.Topic, API: "polarstreams"}
	useCDAP := len(o.Headers) > 0 || o.Namespace != config.DefaultNamespace
	if useCDAP {
		res.API = "cdap"
	}
	var events, bytesSent atomic.Int64
	start := time.Now()
	if o.Progress {
		stop := startProgress(progressTo, start, &events, &bytesSent)
		defer stop()
	}

	send := func(body []byte, n int) error {
		var r request
		if useCDAP {
			r = request{
				method:      http.MethodPost,
				path:        "/v3/namespaces/" + seg(o.Namespace) + "/streams/" + seg(o.Topic) + "/batch",
				body:        bytes.NewReader(body),
				contentType: "text/plain",
				header:      http.Header{},
			}
			for k, v := range o.Headers {
				// CDAP turns "<stream>.<name>" request headers into event headers.
				r.header.Set(o.Topic+"."+k, v)
			}
		} else {
			r = request{
				method:      http.MethodPost,
				path:        "/v1/topic/" + seg(o.Topic) + "/messages",
				body:        bytes.NewReader(body),
				contentType: "application/x-ndjson",
			}
			if o.Key != "" {
				r.query = url.Values{"partitionKey": {o.Key}}
			}
		}
		if _, _, err := cl.do(ctx, r); err != nil {
			return fmt.Errorf("after %d events: %w", events.Load(), err)
		}
		res.Requests++
		events.Add(int64(n))
		return nil
	}

	br := bufio.NewReaderSize(in, 64*1024)
	var buf bytes.Buffer
	n := 0
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
			if len(line) > 0 {
				if n > 0 && buf.Len()+len(line)+1 > defaultProduceBatchBytes {
					if err := send(buf.Bytes(), n); err != nil {
						return res, err
					}
					buf.Reset()
					n = 0
				}
				buf.Write(line)
				buf.WriteByte('\n')
				bytesSent.Add(int64(len(line)))
				n++
				if n >= o.Batch {
					if err := send(buf.Bytes(), n); err != nil {
						return res, err
					}
					buf.Reset()
					n = 0
				}
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return res, err
		}
	}
	if n > 0 {
		if err := send(buf.Bytes(), n); err != nil {
			return res, err
		}
	}
	res.Events, res.Bytes = events.Load(), bytesSent.Load()
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// startProgress redraws one status line on w every 200ms until stopped; the
// final redraw ends the line so later output starts on a fresh one.
func startProgress(w io.Writer, start time.Time, events, bytesSent *atomic.Int64) func() {
	done := make(chan struct{})
	finished := make(chan struct{})
	draw := func() {
		el := time.Since(start).Seconds()
		rate := 0.0
		if el > 0 {
			rate = float64(events.Load()) / el
		}
		fmt.Fprintf(w, "\r%s %d events  %s  %.0f events/s  %.1fs ", spinner(el), events.Load(), humanBytes(bytesSent.Load()), rate, el)
	}
	go func() {
		defer close(finished)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				draw()
			case <-done:
				draw()
				fmt.Fprintln(w)
				return
			}
		}
	}()
	return func() { close(done); <-finished }
}

func spinner(seconds float64) string {
	frames := []string{"|", "/", "-", `\`}
	return frames[int(seconds*5)%len(frames)]
}
