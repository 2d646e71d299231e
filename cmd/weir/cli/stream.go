package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	ucli "github.com/urfave/cli/v2"
	"go.yaml.in/yaml/v3"
)

// streamCommand is `weir stream list|get|apply|delete|stats`, a client of
// the Benthos streams-mode API of a running weir.
func streamCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "stream",
		Usage: "manage the Benthos streams (pipelines) of a running weir",
		Subcommands: []*ucli.Command{
			{
				Name:  "list",
				Usage: "list streams with their status",
				Flags: clientFlags(),
				Action: func(c *ucli.Context) error {
					return withClient(c, func(cl *Client) error {
						var list map[string]streamSummary
						if err := cl.getJSON(c.Context, "/streams", nil, &list); err != nil {
							return err
						}
						if c.Bool("json") {
							return printJSON(c.App.Writer, list)
						}
						ids := make([]string, 0, len(list))
						for id := range list {
							ids = append(ids, id)
						}
						sort.Strings(ids)
						t := newTable(c.App.Writer, "ID", "ACTIVE", "UPTIME")
						for _, id := range ids {
							t.row(id, list[id].Active, list[id].UptimeStr)
						}
						return t.flush()
					})
				},
			},
			{
				Name:      "get",
				Usage:     "show a stream's state and config",
				ArgsUsage: "ID",
				Flags:     clientFlags(),
				Action: func(c *ucli.Context) error {
					id, err := oneArg(c, "ID")
					if err != nil {
						return err
					}
					return withClient(c, func(cl *Client) error {
						var s streamInfo
						if err := cl.getJSON(c.Context, "/streams/"+seg(id), nil, &s); err != nil {
							return err
						}
						if c.Bool("json") {
							return printJSON(c.App.Writer, s)
						}
						return printStream(c.App.Writer, id, s)
					})
				},
			},
			{
				Name:      "apply",
				Usage:     "create the stream, or update it if it exists, from a YAML or JSON config FILE",
				ArgsUsage: "FILE",
				Flags: append(clientFlags(),
					&ucli.StringFlag{Name: "id", Usage: "stream `ID` (default: the file name without extension)"},
					&ucli.BoolFlag{Name: "chilled", Usage: "skip linting"},
				),
				Action: func(c *ucli.Context) error {
					file, err := oneArg(c, "FILE")
					if err != nil {
						return err
					}
					body, err := os.ReadFile(file)
					if err != nil {
						return err
					}
					id := c.String("id")
					if id == "" {
						id = strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
					}
					var q url.Values
					if c.Bool("chilled") {
						q = url.Values{"chilled": {"true"}}
					}
					return withClient(c, func(cl *Client) error {
						action := "created"
						_, _, err := cl.do(c.Context, request{method: http.MethodPost, path: "/streams/" + seg(id), query: q, body: bytes.NewReader(body)})
						var ae *APIError
						if errors.As(err, &ae) && ae.Status == http.StatusBadRequest && ae.Message == "Stream already exists" {
							action = "updated"
							_, _, err = cl.do(c.Context, request{method: http.MethodPut, path: "/streams/" + seg(id), query: q, body: bytes.NewReader(body)})
						}
						if err != nil {
							return err
						}
						if c.Bool("json") {
							return printJSON(c.App.Writer, map[string]string{"id": id, "action": action})
						}
						_, err = fmt.Fprintf(c.App.Writer, "%s stream %s\n", action, id)
						return err
					})
				},
			},
			{
				Name:      "delete",
				Usage:     "stop and remove a stream",
				ArgsUsage: "ID",
				Flags: append(clientFlags(),
					&ucli.StringFlag{Name: "timeout", Usage: "bound the stop by this `DURATION` (server default: streams.stop_timeout)"},
				),
				Action: func(c *ucli.Context) error {
					id, err := oneArg(c, "ID")
					if err != nil {
						return err
					}
					var q url.Values
					if c.IsSet("timeout") {
						q = url.Values{"timeout": {c.String("timeout")}}
					}
					return withClient(c, func(cl *Client) error {
						if _, _, err := cl.do(c.Context, request{method: http.MethodDelete, path: "/streams/" + seg(id), query: q}); err != nil {
							return err
						}
						if c.Bool("json") {
							return printJSON(c.App.Writer, map[string]string{"id": id, "action": "deleted"})
						}
						_, err := fmt.Fprintf(c.App.Writer, "deleted stream %s\n", id)
						return err
					})
				},
			},
			{
				Name:      "stats",
				Usage:     "show a stream's metrics",
				ArgsUsage: "ID",
				Flags:     clientFlags(),
				Action: func(c *ucli.Context) error {
					id, err := oneArg(c, "ID")
					if err != nil {
						return err
					}
					return withClient(c, func(cl *Client) error {
						var stats map[string]json.RawMessage
						if err := cl.getJSON(c.Context, "/streams/"+seg(id)+"/stats", nil, &stats); err != nil {
							return err
						}
						if c.Bool("json") {
							return printJSON(c.App.Writer, stats)
						}
						return printStats(c.App.Writer, stats)
					})
				},
			},
		},
	}
}

type streamSummary struct {
	Active    bool    `json:"active"`
	Uptime    float64 `json:"uptime"`
	UptimeStr string  `json:"uptime_str"`
}

type streamInfo struct {
	Active    bool    `json:"active"`
	Uptime    float64 `json:"uptime"`
	UptimeStr string  `json:"uptime_str"`
	Config    any     `json:"config"`
	State     string  `json:"state"`
	LastError string  `json:"last_error"`
}

func printStream(w io.Writer, id string, s streamInfo) error {
	fmt.Fprintf(w, "ID:         %s\n", id)
	fmt.Fprintf(w, "State:      %s\n", orDash(s.State))
	fmt.Fprintf(w, "Active:     %t\n", s.Active)
	fmt.Fprintf(w, "Uptime:     %s\n", s.UptimeStr)
	fmt.Fprintf(w, "Last error: %s\n", orDash(s.LastError))
	fmt.Fprintln(w, "Config:")
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(s.Config); err != nil {
		return err
	}
	for _, line := range strings.Split(strings.TrimRight(buf.String(), "\n"), "\n") {
		fmt.Fprintf(w, "  %s\n", line)
	}
	return nil
}

// printStats shows counters and gauges as numbers and timers as p50/p90/p99,
// one metric per line, sorted by key.
func printStats(w io.Writer, stats map[string]json.RawMessage) error {
	keys := make([]string, 0, len(stats))
	for k := range stats {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	t := newTable(w, "METRIC", "VALUE")
	for _, k := range keys {
		raw := stats[k]
		var timer struct{ P50, P90, P99 *float64 }
		if len(raw) > 0 && raw[0] == '{' && json.Unmarshal(raw, &timer) == nil && timer.P50 != nil {
			t.row(k, fmt.Sprintf("p50=%s p90=%s p99=%s", nanos(timer.P50), nanos(timer.P90), nanos(timer.P99)))
			continue
		}
		t.row(k, string(raw))
	}
	return t.flush()
}

func nanos(f *float64) string {
	if f == nil {
		return "-"
	}
	return fmt.Sprintf("%.0fns", *f)
}
