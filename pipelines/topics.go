package pipelines

import (
	"context"

	"github.com/weirflow/weir/config"
)

// Topics is what the `weir` input and output need from weir's engine
// (*actors.Engine satisfies it). It is declared here, where it is used, so
// pipelines never imports actors.
type Topics interface {
	GetNamespace(ctx context.Context, name string) (config.NamespaceInfo, error)
	GetTopic(ctx context.Context, ns, topic string) (config.TopicInfo, error)
	Produce(ctx context.Context, req config.ProduceRequest) (config.ProduceResult, error)
	Fetch(ctx context.Context, ns, topic string, partition int, offset int64, maxEvents, maxBytes int) (config.FetchResult, error)
	JoinGroup(ctx context.Context, req config.JoinRequest) (config.JoinResult, error)
	Poll(ctx context.Context, req config.PollRequest) (config.PollResult, error)
	Commit(ctx context.Context, ns, member string, offsets []config.PartitionOffset) error
	LeaveGroup(ctx context.Context, ns, member string, commit bool) error
}
