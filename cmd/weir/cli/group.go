package cli

import (
	"fmt"
	"io"
	"strings"

	ucli "github.com/urfave/cli/v2"

	api "github.com/weirflow/weir/http"
)

// groupCommand is `weir group list|describe` over /weir/v1/.../groups.
func groupCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "group",
		Usage: "list and describe consumer groups",
		Subcommands: []*ucli.Command{
			{
				Name:  "list",
				Usage: "list the consumer groups of a namespace",
				Flags: clientFlags(),
				Action: func(c *ucli.Context) error {
					if c.Args().Len() > 0 {
						return usageError{fmt.Errorf("group list takes no arguments")}
					}
					return withClient(c, func(cl *Client) error {
						var list []api.AdminGroup
						if err := cl.getJSON(c.Context, adminPath(c.String("namespace"), "groups"), nil, &list); err != nil {
							return err
						}
						if c.Bool("json") {
							return printJSON(c.App.Writer, list)
						}
						return printGroupList(c.App.Writer, list)
					})
				},
			},
			{
				Name:      "describe",
				Usage:     "show a group's members, assignment, and per partition the committed offset, end offset and lag",
				ArgsUsage: "GROUP",
				Flags:     clientFlags(),
				Action: func(c *ucli.Context) error {
					name, err := oneArg(c, "GROUP")
					if err != nil {
						return err
					}
					return withClient(c, func(cl *Client) error {
						var g api.AdminGroup
						if err := cl.getJSON(c.Context, adminPath(c.String("namespace"), "groups", seg(name)), nil, &g); err != nil {
							return err
						}
						if c.Bool("json") {
							return printJSON(c.App.Writer, g)
						}
						return printGroup(c.App.Writer, g)
					})
				},
			},
		},
	}
}

func printGroupList(w io.Writer, list []api.AdminGroup) error {
	t := newTable(w, "GROUP", "MEMBERS", "TOPICS", "PARTITIONS", "LAG")
	for _, g := range list {
		t.row(g.Name, len(g.Members), orDash(strings.Join(groupTopics(g), ",")), len(g.Partitions), g.Lag)
	}
	return t.flush()
}

// groupTopics lists the topics a group has partitions of, in order of first
// appearance (the server sorts partitions by topic).
func groupTopics(g api.AdminGroup) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range g.Partitions {
		if !seen[p.Topic] {
			seen[p.Topic] = true
			out = append(out, p.Topic)
		}
	}
	return out
}

func printGroup(w io.Writer, g api.AdminGroup) error {
	fmt.Fprintf(w, "Group:     %s/%s\n", g.Namespace, g.Name)
	fmt.Fprintf(w, "Members:   %d\n", len(g.Members))
	fmt.Fprintf(w, "Total lag: %d\n\n", g.Lag)
	if len(g.Members) > 0 {
		t := newTable(w, "MEMBER", "TOPICS", "ASSIGNMENT")
		for _, m := range g.Members {
			parts := make([]string, 0, len(m.Assignment))
			for _, a := range m.Assignment {
				parts = append(parts, fmt.Sprintf("%s/%d", a.Topic, a.Partition))
			}
			t.row(m.ID, orDash(strings.Join(m.Topics, ",")), orDash(strings.Join(parts, " ")))
		}
		if err := t.flush(); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	t := newTable(w, "TOPIC", "PARTITION", "OWNER", "COMMITTED", "END", "LAG")
	for _, p := range g.Partitions {
		committed := fmt.Sprint(p.Committed)
		if p.Committed < 0 {
			committed = "-"
		}
		t.row(p.Topic, p.Partition, orDash(p.Owner), committed, p.End, p.Lag)
	}
	return t.flush()
}
