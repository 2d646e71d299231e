package actors

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/weirflow/weir/config"
	"github.com/weirflow/weir/wal"
)

// appendReq asks a partition to append one atomic request (topic →
// partition). The answer goes to Reply.
type appendReq struct {
	Records []wal.Record
	// Counted adds the bodies to the topic's notification counter.
	Counted bool
	Reply   replyTo
	bytes   int // body bytes, set by the topic
	// one holds the record of a single-message request, so that the
	// common case costs one allocation instead of two.
	one [1]wal.Record
}

// produceAnswer is the answer of a produce on a reply channel: a result or
// an error.
type produceAnswer struct {
	res config.ProduceResult
	err error
}

// replyTo is where the answer of a produce goes. An Engine.Produce call
// waits on ch: a channel instead of a protoactor future costs no future
// actor, no registry entry and no timer goroutine per request, which
// matters at hundreds of concurrent producers. Requests issued through a
// future (the async queues) name their pid instead; fire-and-forget appends
// (notifications) have neither.
type replyTo struct {
	ch  chan produceAnswer // buffered (1): a send never blocks an actor
	pid *actor.PID
}

// ok and fail answer the request. Each request is answered exactly once;
// the select only guards an actor against blocking if a bug ever answered
// twice. Both may be called from any goroutine (the root context is safe
// for concurrent use).
func (r replyTo) ok(sys *actor.ActorSystem, res config.ProduceResult) {
	switch {
	case r.ch != nil:
		select {
		case r.ch <- produceAnswer{res: res}:
		default:
		}
	case r.pid != nil:
		sys.Root.Send(r.pid, &produceResp{Result: res})
	}
}

func (r replyTo) fail(sys *actor.ActorSystem, err error) {
	switch {
	case r.ch != nil:
		select {
		case r.ch <- produceAnswer{err: err}:
		default:
		}
	case r.pid != nil:
		sys.Root.Send(r.pid, &failure{err: err})
	}
}

// produceResp acknowledges a durable append.
type produceResp struct {
	Result config.ProduceResult
}

// writeDone tells the partition its writer finished a write (acks sent):
// next is the log's next offset after it, or err the failure that poisoned
// the log (cause is the wal's own error).
type writeDone struct {
	w     *writer
	next  int64
	err   error
	cause error
}

// partitionFetch reads by offset. Answer: *fetchResp or *failure.
type partitionFetch struct {
	From      int64
	MaxEvents int
	MaxBytes  int
}

// fetchResp is a bounded read of one partition.
type fetchResp struct {
	Result config.FetchResult
}

// partitionRange reads one page of a time range: from the first event with
// timestamp ≥ FromTime (when FromOffset < 0) or from FromOffset, stopping
// before the first event with timestamp ≥ To. Answer: *rangeResp or *failure.
type partitionRange struct {
	FromTime   int64
	FromOffset int64
	To         int64
	MaxEvents  int
	MaxBytes   int
}

// rangeResp is one page of a time-range read. Next is where the next page
// starts; Done means the range (or the log) is exhausted.
type rangeResp struct {
	Events []config.Event
	Next   int64
	Done   bool
}

// partitionInfoReq asks for offsets and size. Answer: *partitionInfoResp.
type partitionInfoReq struct{}

type partitionInfoResp struct {
	Info config.PartitionInfo
}

// partitionTruncate empties the log (offsets keep growing). Answer: *okResp or *failure.
type partitionTruncate struct{}

// partitionRetention applies TTL and size retention. MinTimestamp 0 means no
// TTL. Answer: *okResp or *failure.
type partitionRetention struct {
	MinTimestamp int64
}

// partitionDrain writes everything queued and fsyncs. It is a user message,
// so it is processed after every append that reached the mailbox before it.
// Answer: *okResp.
type partitionDrain struct{}

// partitionWatch asks for one *appendNotice to the sender as soon as the
// partition's next offset is beyond From (at once if it already is). A later
// watch from the same sender replaces the earlier one.
type partitionWatch struct {
	From int64
}

// appendNotice tells a watcher that a partition grew.
type appendNotice struct {
	TopicID   string
	Partition int
	Next      int64
}

// partitionReady tells the topic a partition is open (or failed to open) and
// the newest timestamp it holds, which seeds the topic's clock.
type partitionReady struct {
	Partition     int
	LastTimestamp int64
}

// partitionAppended tells the topic how many counted body bytes a write
// added, for notification thresholds.
type partitionAppended struct {
	Partition    int
	CountedBytes int64
}

// okResp is the empty success answer.
type okResp struct{}
