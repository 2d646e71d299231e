package actors

import (
	"sort"
)

// tp names one partition of a topic inside a group. Topic is the name; the
// incarnation id travels in topicMeta.
type tp struct {
	Topic     string
	Partition int
}

// assignRoundRobin is the group assignment of spec/polarstreams.md §5: every
// (topic, partition) pair of the union of the members' topics, topics sorted
// bytewise then partitions ascending, goes to the sorted member ids round
// robin (pair i → member i mod n). partitions gives each existing topic's
// partition count; topics that do not exist are skipped. It is a pure
// function so the rule is testable on its own.
func assignRoundRobin(members map[string][]string, partitions map[string]int) map[string][]tp {
	out := make(map[string][]tp, len(members))
	if len(members) == 0 {
		return out
	}
	ids := make([]string, 0, len(members))
	union := map[string]bool{}
	for id, topics := range members {
		ids = append(ids, id)
		out[id] = nil
		for _, t := range topics {
			union[t] = true
		}
	}
	sort.Strings(ids)
	topics := make([]string, 0, len(union))
	for t := range union {
		if _, ok := partitions[t]; ok {
			topics = append(topics, t)
		}
	}
	sort.Strings(topics)
	i := 0
	for _, t := range topics {
		for p := 0; p < partitions[t]; p++ {
			id := ids[i%len(ids)]
			out[id] = append(out[id], tp{Topic: t, Partition: p})
			i++
		}
	}
	return out
}
