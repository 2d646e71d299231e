package http

import (
	"context"

	"github.com/weirflow/weir/config"
)

// Engine is what the HTTP layer needs from weir's engine (actors.Engine
// implements it). It is declared here, where it is used, so http/ never
// imports actors/: handlers bind, call one of these, and render.
type Engine interface {
	CreateNamespace(ctx context.Context, name, description string) (created bool, err error)
	ListNamespaces(ctx context.Context) ([]config.NamespaceInfo, error)
	GetNamespace(ctx context.Context, name string) (config.NamespaceInfo, error)
	DeleteNamespace(ctx context.Context, name string) error

	CreateTopic(ctx context.Context, ns, topic string, props config.TopicProps) (info config.TopicInfo, created bool, err error)
	GetTopic(ctx context.Context, ns, topic string) (config.TopicInfo, error)
	ListTopics(ctx context.Context, ns string) ([]config.TopicInfo, error)
	SetTopicProps(ctx context.Context, ns, topic string, props config.TopicProps) error
	TruncateTopic(ctx context.Context, ns, topic string) error
	DeleteTopic(ctx context.Context, ns, topic string) error

	// Produce reads the messages' bytes until it returns nil and never
	// after; after an error it may (the request can still be written).
	Produce(ctx context.Context, req config.ProduceRequest) (config.ProduceResult, error)
	ProduceAsync(ctx context.Context, req config.ProduceRequest) error
	ReadRange(ctx context.Context, ns, topic string, fromMicros, toMicros int64, limit int) ([]config.Event, error)
	Fetch(ctx context.Context, ns, topic string, partition int, offset int64, maxEvents, maxBytes int) (config.FetchResult, error)

	JoinGroup(ctx context.Context, req config.JoinRequest) (config.JoinResult, error)
	Poll(ctx context.Context, req config.PollRequest) (config.PollResult, error)
	Commit(ctx context.Context, ns, member string, offsets []config.PartitionOffset) error
	LeaveGroup(ctx context.Context, ns, member string, commit bool) error
	ListGroups(ctx context.Context, ns string) ([]config.GroupInfo, error)
	DescribeGroup(ctx context.Context, ns, group string) (config.GroupInfo, error)

	// Ready reports whether the engine accepts requests (false while
	// starting or draining).
	Ready() bool
}
