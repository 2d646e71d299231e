package config

import (
	"encoding/json"
	"math"
	"time"
)

// Message is one event to append: what a producer supplies.
type Message struct {
	Headers map[string]string
	Body    []byte
}

// Event is one stored event as readers see it. Offsets are 0-based per
// partition and never reused within a topic incarnation; Timestamp is the
// append time in microseconds since the Unix epoch, stamped by the topic actor.
type Event struct {
	Partition int
	Offset    int64
	Timestamp int64
	Headers   map[string]string
	Key       []byte
	Body      []byte
}

// TTLForever is the default time-to-live in milliseconds (CDAP's Long.MAX_VALUE).
const TTLForever = math.MaxInt64

// DefaultNotificationThresholdMB is CDAP's default notification threshold.
const DefaultNotificationThresholdMB = 1024

// TopicProps are a topic's durable properties. Partitions is fixed at
// creation. The CDAP-specific values are stored by the engine and interpreted
// by http/ (Format is kept as the exact JSON the CDAP layer normalised).
type TopicProps struct {
	// Partitions is the partition count; 0 means storage.default_partitions.
	Partitions int `json:"partitions"`
	// TTLMillis is how long an event stays readable by time-range reads, in
	// milliseconds; TTLForever when unset. 0 hides every event at once.
	TTLMillis int64 `json:"ttl_ms"`
	// Format is the normalised CDAP format spec as JSON; nil means the default
	// text format.
	Format json.RawMessage `json:"format,omitempty"`
	// NotificationThresholdMB: one event is published to the namespace's
	// _notifications topic whenever the body bytes appended since the last
	// notification exceed this many MiB.
	NotificationThresholdMB int32 `json:"notification_threshold_mb"`
	// Description is free text; nil when never set.
	Description *string `json:"description,omitempty"`
	// Principal is the immutable owner; nil when none.
	Principal *string `json:"principal,omitempty"`
}

// DefaultTopicProps returns the properties of a topic created without any.
func DefaultTopicProps() TopicProps {
	return TopicProps{TTLMillis: TTLForever, NotificationThresholdMB: DefaultNotificationThresholdMB}
}

// NotificationsTopic receives CDAP-style threshold notifications, one per
// namespace. Appends to it are not counted towards notifications.
const NotificationsTopic = "_notifications"

// PartitionInfo describes one partition of a topic.
type PartitionInfo struct {
	Partition int `json:"partition"`
	// FirstOffset is the oldest retained offset; equal to NextOffset when empty.
	FirstOffset int64 `json:"first_offset"`
	// NextOffset is the offset the next appended event will get (end offset).
	NextOffset int64 `json:"next_offset"`
	// SizeBytes is the size of the partition's log files on disk.
	SizeBytes int64 `json:"size_bytes"`
	// LastTimestamp is the newest event's append time (µs), 0 when empty.
	LastTimestamp int64 `json:"last_timestamp"`
}

// TopicInfo describes a topic incarnation.
type TopicInfo struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// ID names this incarnation (and its data directory); a deleted and
	// re-created topic gets a new ID.
	ID         string          `json:"id"`
	Props      TopicProps      `json:"properties"`
	Created    time.Time       `json:"created"`
	Partitions []PartitionInfo `json:"partitions,omitempty"`
}

// NamespaceInfo describes a namespace.
type NamespaceInfo struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// ProduceRequest is one atomic append: every message goes to one partition
// with consecutive offsets and one shared append time, durable before the
// engine answers.
type ProduceRequest struct {
	Namespace string
	Topic     string
	// Key, when non-empty, picks the partition by the Cassandra-flavoured
	// Murmur3 token (PartitionForKey) and is stored as each event's key.
	// Empty means round-robin per topic, one step per request.
	Key      []byte
	Messages []Message
	// CreateTopic creates a missing topic (default properties) in an existing
	// namespace, as PolarStreams produce and the weir output do.
	CreateTopic bool
	// Uncounted excludes the bytes from notification counting (used for
	// appends to _notifications itself).
	Uncounted bool
}

// ProduceResult tells where an acknowledged request was stored.
type ProduceResult struct {
	Partition   int
	FirstOffset int64
	Count       int
	Timestamp   int64
}

// FetchResult is a bounded read of one partition by offset.
type FetchResult struct {
	Events []Event
	// FirstOffset is the partition's oldest retained offset at read time.
	FirstOffset int64
	// NextOffset is the partition's end offset at read time.
	NextOffset int64
}

// StartFrom chooses where a group starts on a partition it has never committed.
type StartFrom int

const (
	// StartLatest starts at the partition's end offset when the partition
	// joins the group (PolarStreams default).
	StartLatest StartFrom = iota
	// StartEarliest starts at the oldest retained event.
	StartEarliest
)

// JoinRequest registers a member in a consumer group.
type JoinRequest struct {
	Namespace string
	Group     string
	// Member ids are unique per namespace across all groups.
	Member string
	Topics []string
	// StartFrom applies only to partitions without a committed offset; the
	// computed start is committed at once so it never moves.
	StartFrom StartFrom
	// CreateTopics creates missing topics with default properties
	// (PolarStreams register). Without it a missing topic is ErrTopicNotFound.
	CreateTopics bool
	// NoTimeout exempts the member from the inactivity timeout (weir inputs).
	NoTimeout bool
}

// JoinResult reports whether the member was already registered with the same
// group and topic set (then nothing changed).
type JoinResult struct {
	AlreadyRegistered bool
}

// PollRequest asks a member for its next records. Zero limits take the
// PolarStreams defaults (1000 events and 1 MiB per partition, 2 MiB per poll).
type PollRequest struct {
	Namespace string
	Member    string
	// MaxEventsPerPartition, MaxBytesPerPartition bound one chunk.
	MaxEventsPerPartition int
	MaxBytesPerPartition  int
	// MaxBytes stops adding chunks once raw bodies reach it.
	MaxBytes int
	// Wait, when > 0, holds the poll until any assigned partition has records
	// past the member's position, the wait ends, or the member is removed.
	Wait time.Duration
	// AutoCommit commits the member's delivered positions before reading
	// (PolarStreams semantics: poll k+1 commits what poll k returned).
	AutoCommit bool
}

// Chunk is the consecutive events of one partition handed out by one poll.
type Chunk struct {
	Topic       string
	Partition   int
	StartOffset int64
	Events      []Event
}

// PollResult is what one poll hands a member. Assigned is the number of
// partitions the member owns now (0 → PolarStreams answers Retry-After: 5).
type PollResult struct {
	Assigned int
	Chunks   []Chunk
}

// TopicPartition names one partition of a topic (namespace implied).
type TopicPartition struct {
	Topic     string `json:"topic"`
	Partition int    `json:"partition"`
}

// PartitionOffset is an offset for one partition.
type PartitionOffset struct {
	Topic     string `json:"topic"`
	Partition int    `json:"partition"`
	Offset    int64  `json:"offset"`
}

// GroupMember describes a member and its current assignment.
type GroupMember struct {
	ID         string           `json:"id"`
	Topics     []string         `json:"topics"`
	Assignment []TopicPartition `json:"assignment"`
}

// GroupPartition is a group's view of one partition.
type GroupPartition struct {
	Topic     string `json:"topic"`
	Partition int    `json:"partition"`
	Owner     string `json:"owner,omitempty"`
	// Committed is the durable committed offset, -1 when none.
	Committed int64 `json:"committed"`
	End       int64 `json:"end"`
	Lag       int64 `json:"lag"`
}

// GroupInfo describes a consumer group.
type GroupInfo struct {
	Namespace  string           `json:"namespace"`
	Name       string           `json:"name"`
	Members    []GroupMember    `json:"members"`
	Partitions []GroupPartition `json:"partitions"`
}

// TopicRef names a topic in a namespace.
type TopicRef struct {
	Namespace string `json:"namespace"`
	Topic     string `json:"topic"`
}
