package actors

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/weirflow/weir/config"
)

// topicMeta is what other actors need to address a topic incarnation's
// partitions directly.
type topicMeta struct {
	Name       string
	ID         string
	Partitions int
	// PID is the topic actor. Partitions are addressed through it
	// (*toPartition): a topic spawns its partitions in Started, so right
	// after creation their PIDs do not exist yet, while the topic stashes
	// what arrives until they do.
	PID *actor.PID
}

// toPartition asks the topic to forward Msg to one partition, keeping the
// original sender (who gets the partition's answer, or a *failure for a
// partition index out of range).
type toPartition struct {
	Partition int
	Msg       any
}

// produceReq is an Engine produce (Engine or manager → topic). Answer, from
// the partition: on Reply when it is set (Engine.Produce), else to the
// sender (*produceResp or *failure).
type produceReq struct {
	Req   config.ProduceRequest
	Reply chan produceAnswer
}

// replyTo is where the answer of m goes, given the message's sender.
func (m *produceReq) replyTo(sender *actor.PID) replyTo {
	return replyTo{ch: m.Reply, pid: sender}
}

// readRangeReq is a time-range read across partitions. Answer: *readRangeResp or *failure.
type readRangeReq struct {
	NS, Topic string
	From, To  int64
	Limit     int
}

type readRangeResp struct {
	Events []config.Event
}

// fetchReq reads one partition by offset. Answer: *fetchResp or *failure.
type fetchReq struct {
	NS, Topic string
	Partition int
	Offset    int64
	MaxEvents int
	MaxBytes  int
}

// truncateReq empties every partition. Answer: *okResp or *failure.
type truncateReq struct {
	NS, Topic string
}

// setTopicProps replaces a topic's properties (manager → topic, no answer).
type setTopicProps struct {
	Props config.TopicProps
}

// topicDrain drains every partition. Answer: *topicDrained.
type topicDrain struct{}

type topicDrained struct {
	NS, Topic, ID           string
	NotifyCount, NotifiedAt int64
}

// topicRetention runs retention on every partition. Answer: *okResp or *failure.
type topicRetention struct{}

// notifyCounters asks the manager to persist a topic's notification counter
// (topic → manager, after a notification was published).
type notifyCounters struct {
	NS, Topic, ID           string
	NotifyCount, NotifiedAt int64
}
