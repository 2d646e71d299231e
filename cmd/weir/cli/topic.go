package cli

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	ucli "github.com/urfave/cli/v2"

	api "github.com/weirflow/weir/http"
)

// topicCommand is `weir topic create|list|describe|delete|truncate`, over
// the admin routes /weir/v1/namespaces/{ns}/topics.
func topicCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "topic",
		Usage: "create, list, describe, delete and truncate topics",
		Subcommands: []*ucli.Command{
			{
				Name:      "create",
				Usage:     "create a topic",
				ArgsUsage: "TOPIC",
				Flags: append(clientFlags(),
					&ucli.IntFlag{Name: "partitions", Aliases: []string{"p"}, Usage: "partition `COUNT` (default: the server's storage.default_partitions)"},
					&ucli.StringFlag{Name: "ttl", Usage: "how long events stay readable by time, a `DURATION` such as 72h, or forever", Value: "forever"},
					&ucli.StringFlag{Name: "description", Usage: "free `TEXT`"},
				),
				Action: func(c *ucli.Context) error {
					name, err := oneArg(c, "TOPIC")
					if err != nil {
						return err
					}
					req := api.AdminCreateTopic{Name: name, Partitions: c.Int("partitions")}
					ttl, set, err := parseTTL(c.String("ttl"))
					if err != nil {
						return err
					}
					if set {
						ms := ttl.Milliseconds()
						req.TTLMillis = &ms
					}
					if c.IsSet("description") {
						d := c.String("description")
						req.Description = &d
					}
					return withClient(c, func(cl *Client) error {
						var t api.AdminTopic
						if err := cl.sendJSON(c.Context, http.MethodPost, adminPath(c.String("namespace"), "topics"), req, &t); err != nil {
							return err
						}
						if c.Bool("json") {
							return printJSON(c.App.Writer, t)
						}
						_, err := fmt.Fprintf(c.App.Writer, "created topic %s/%s with %d partitions, retention %s\n", t.Namespace, t.Name, t.PartitionCount, t.Retention)
						return err
					})
				},
			},
			{
				Name:  "list",
				Usage: "list the topics of a namespace",
				Flags: clientFlags(),
				Action: func(c *ucli.Context) error {
					if c.Args().Len() > 0 {
						return usageError{fmt.Errorf("topic list takes no arguments")}
					}
					return withClient(c, func(cl *Client) error {
						var list []api.AdminTopic
						if err := cl.getJSON(c.Context, adminPath(c.String("namespace"), "topics"), nil, &list); err != nil {
							return err
						}
						if c.Bool("json") {
							return printJSON(c.App.Writer, list)
						}
						return printTopicList(c.App.Writer, list)
					})
				},
			},
			{
				Name:      "describe",
				Usage:     "show a topic's partitions with first/last offsets, sizes and retention",
				ArgsUsage: "TOPIC",
				Flags:     clientFlags(),
				Action: func(c *ucli.Context) error {
					name, err := oneArg(c, "TOPIC")
					if err != nil {
						return err
					}
					return withClient(c, func(cl *Client) error {
						var t api.AdminTopic
						if err := cl.getJSON(c.Context, adminPath(c.String("namespace"), "topics", seg(name)), nil, &t); err != nil {
							return err
						}
						if c.Bool("json") {
							return printJSON(c.App.Writer, t)
						}
						return printTopic(c.App.Writer, t)
					})
				},
			},
			{
				Name:      "delete",
				Usage:     "delete a topic, its events and every group's offsets for it",
				ArgsUsage: "TOPIC",
				Flags:     clientFlags(),
				Action: func(c *ucli.Context) error {
					name, err := oneArg(c, "TOPIC")
					if err != nil {
						return err
					}
					return withClient(c, func(cl *Client) error {
						if err := cl.sendJSON(c.Context, http.MethodDelete, adminPath(c.String("namespace"), "topics", seg(name)), nil, nil); err != nil {
							return err
						}
						if c.Bool("json") {
							return printJSON(c.App.Writer, map[string]any{"deleted": name, "namespace": c.String("namespace")})
						}
						_, err := fmt.Fprintf(c.App.Writer, "deleted topic %s/%s\n", c.String("namespace"), name)
						return err
					})
				},
			},
			{
				Name:      "truncate",
				Usage:     "remove every event of a topic (offsets keep growing)",
				ArgsUsage: "TOPIC",
				Flags:     clientFlags(),
				Action: func(c *ucli.Context) error {
					name, err := oneArg(c, "TOPIC")
					if err != nil {
						return err
					}
					return withClient(c, func(cl *Client) error {
						var t api.AdminTopic
						if err := cl.sendJSON(c.Context, http.MethodPost, adminPath(c.String("namespace"), "topics", seg(name), "truncate"), nil, &t); err != nil {
							return err
						}
						if c.Bool("json") {
							return printJSON(c.App.Writer, t)
						}
						_, err := fmt.Fprintf(c.App.Writer, "truncated topic %s/%s\n", t.Namespace, t.Name)
						return err
					})
				},
			},
		},
	}
}

func printTopicList(w io.Writer, list []api.AdminTopic) error {
	t := newTable(w, "NAME", "PARTITIONS", "EVENTS", "SIZE", "RETENTION")
	for _, tp := range list {
		t.row(tp.Name, tp.PartitionCount, tp.Events, humanBytes(tp.SizeBytes), tp.Retention)
	}
	return t.flush()
}

func printTopic(w io.Writer, tp api.AdminTopic) error {
	desc := ""
	if tp.Description != nil {
		desc = *tp.Description
	}
	fmt.Fprintf(w, "Topic:       %s/%s\n", tp.Namespace, tp.Name)
	fmt.Fprintf(w, "ID:          %s\n", tp.ID)
	fmt.Fprintf(w, "Created:     %s\n", tp.Created.UTC().Format("2006-01-02T15:04:05Z"))
	fmt.Fprintf(w, "Partitions:  %d\n", tp.PartitionCount)
	fmt.Fprintf(w, "Retention:   %s\n", tp.Retention)
	fmt.Fprintf(w, "Description: %s\n", orDash(desc))
	fmt.Fprintf(w, "Events:      %d\n", tp.Events)
	fmt.Fprintf(w, "Size:        %s\n\n", humanBytes(tp.SizeBytes))
	t := newTable(w, "PARTITION", "FIRST", "LAST", "NEXT", "EVENTS", "SIZE", "LAST APPEND")
	for _, p := range tp.Partitions {
		last := fmt.Sprint(p.LastOffset)
		if p.Events == 0 {
			last = "-"
		}
		t.row(p.Partition, p.FirstOffset, last, p.NextOffset, p.Events, humanBytes(p.SizeBytes), microsTime(p.LastTimestamp))
	}
	return t.flush()
}

// oneArg returns the single positional argument a command needs.
func oneArg(c *ucli.Context, what string) (string, error) {
	if c.Args().Len() != 1 {
		if c.Args().Len() > 1 && strings.HasPrefix(c.Args().Get(1), "-") {
			return "", usageError{fmt.Errorf("%s: flags go before the %s argument (%s)", c.Command.HelpName, what, c.Args().Get(1))}
		}
		return "", usageError{fmt.Errorf("%s needs exactly one %s argument", c.Command.HelpName, what)}
	}
	return c.Args().First(), nil
}

// withClient builds the client from --url and runs fn with it.
func withClient(c *ucli.Context, fn func(*Client) error) error {
	cl, err := clientFrom(c)
	if err != nil {
		return err
	}
	return fn(cl)
}
