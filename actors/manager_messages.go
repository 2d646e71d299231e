package actors

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/weirflow/weir/config"
)

// Requests from the Engine to the manager. Names are validated by the Engine
// before any of these is sent. Unless noted, the answer is the named
// response or *failure.

type createNamespaceReq struct{ Name, Description string } // → *createdResp
type listNamespacesReq struct{}                            // → *namespacesResp
type getNamespaceReq struct{ Name string }                 // → *namespacesResp (one item)
type deleteNamespaceReq struct{ Name string }              // → *okResp

type createdResp struct{ Created bool }

type namespacesResp struct{ Items []config.NamespaceInfo }

type createTopicReq struct {
	NS, Topic string
	Props     config.TopicProps
} // → *topicResp

type getTopicReq struct{ NS, Topic string }    // → *topicResp
type listTopicsReq struct{ NS string }         // → *topicsResp
type deleteTopicReq struct{ NS, Topic string } // → *okResp, after the files are gone
type resolveTopicsReq struct {                 // → *topicsResp, in the order asked
	NS     string
	Topics []string
	Create bool
}
type setTopicPropsReq struct {
	NS, Topic string
	Props     config.TopicProps
} // → *okResp

type topicResp struct {
	Info    config.TopicInfo
	Meta    topicMeta
	Created bool
}

type topicsResp struct{ Items []*topicResp }

// Group routing. joinReq carries the start offsets the Engine measured for
// the member's partitions (used only where the group has no commit).
type joinReq struct {
	Req    config.JoinRequest
	Metas  []topicMeta
	Starts map[string]int64 // offsetKey → start
}
type pollReq struct {
	Req config.PollRequest
	// Token names this poll so the facade can abandon it (pollAbandon).
	Token uint64
}

// pollAbandon tells a member's group that the caller of poll Token stopped
// waiting (its context ended or the request timed out) before an answer
// reached it. The group must not let that poll move the member's delivered
// positions: the next poll auto-commits them, and events nobody received
// would be committed, i.e. lost to the group.
type pollAbandon struct {
	NS, Member string
	Token      uint64
}
type commitReq struct {
	NS, Member string
	Offsets    []config.PartitionOffset
}
type leaveReq struct {
	NS, Member string
	Commit     bool
}
type listGroupsReq struct{ NS string }           // → *groupsResp
type describeGroupReq struct{ NS, Group string } // → *groupInfoResp

type groupsResp struct {
	Names []string
	PIDs  []*actor.PID
}

// memberGone tells the manager a member left its group (goodbye, timeout,
// failed join), so the id is free in the namespace again.
type memberGone struct{ NS, Member, Group string }

// Engine-wide work, answered once every actor concerned has answered.
type drainAllReq struct{}     // → *okResp
type retentionAllReq struct{} // → *okResp
type releasePollsReq struct{} // → *okResp

// saveCounters persists notification counters at shutdown. → *okResp
type saveCounters struct{ Items []*topicDrained }

// spawnChildReq asks the manager to spawn a child actor under itself (the
// streams supervisor), so the manager is the root of every actor weir runs
// (DESIGN "Actors"). reply receives the result; it is buffered.
type spawnChildReq struct {
	name  string
	props *actor.Props
	reply chan spawnChildResult
}

type spawnChildResult struct {
	pid *actor.PID
	err error
}
