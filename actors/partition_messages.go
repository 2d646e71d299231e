package actors

import (
	"github.com/weirflow/weir/config"
	"github.com/weirflow/weir/wal"
)

// appendReq asks a partition to append one atomic request (topic → partition;
// the sender is the producer's future, or nil for fire-and-forget appends).
// Answer: *produceResp or *failure.
type appendReq struct {
	Records []wal.Record
	// Counted adds the bodies to the topic's notification counter.
	Counted bool
}

// produceResp acknowledges a durable append.
type produceResp struct {
	Result config.ProduceResult
}

// flushTick makes an idle partition start writing what it has queued (one
// Append, one fsync). The partition sends it to itself at the first append
// of a burst, so every append already in the mailbox joins that batch; while
// a write runs, appends wait for its writeDone and form the next batch.
type flushTick struct{}

// writeDone tells the partition its write goroutine finished write seq; the
// result is in the write's channel.
type writeDone struct {
	seq uint64
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
