package actors

import (
	"github.com/weirflow/weir/config"
	"github.com/weirflow/weir/wal"
)

// Messages a consumer-group actor receives besides the routed Engine
// requests (joinReq, pollReq, commitReq, leaveReq, describeGroupReq,
// releasePollsReq) and partitions' *appendNotice.

// topicCreated and topicDeleted keep the group's view of its namespace's
// topics current (manager → group, no answer). A deleted topic leaves the
// assignment at once and its committed offsets are dropped.
type topicCreated struct{ Meta topicMeta }
type topicDeleted struct{ Name, ID string }

// groupRestarted tells the manager a group actor was rebuilt by its
// supervisor and has lost its members (group → manager). The manager drops
// the group's members from its registry and answers with groupReset.
type groupRestarted struct{ NS, Group string }

// groupReset gives a restarted group the namespace's current topics, after
// the manager's registry dropped its members (manager → group).
type groupReset struct{ Metas []topicMeta }

// groupTick drives the inactivity timeout (sent by the group's ticker; tests
// may send it too).
type groupTick struct{}

// offsetsSaved reports a background save of a group's committed offsets
// up to version ver (group's saver goroutine → group).
type offsetsSaved struct {
	owner *group // the instance that started the save
	store *wal.OffsetStore
	ver   uint64
	err   error
}

// pollDeadline ends a parked poll's wait.
type pollDeadline struct{ ID uint64 }

// pollDone answers a routed poll.
type pollResp struct{ Result config.PollResult }

type joinResp struct{ Result config.JoinResult }

// groupInfoResp is a group's own view; the Engine adds end offsets and lag
// from the partitions (PIDs index-aligned with Info.Partitions).
type groupInfoResp struct {
	Info config.GroupInfo
	Meta []topicMeta // the topics of Info.Partitions
}
