package pipelines

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/benthosdev/benthos/v4/public/service"
	"github.com/rs/zerolog"

	"github.com/weirflow/weir/config"
	"github.com/weirflow/weir/plugins"
)

const (
	weirInputName = "weir"
	// inputChunkEvents bounds one batch read from a partition.
	inputChunkEvents = 1000
	inputChunkBytes  = 1 << 20
	// inputPollWait is how long one group poll waits for new events.
	inputPollWait = 500 * time.Millisecond
	// inputIdleWait paces group-less reads when every partition is drained.
	inputIdleWait = 50 * time.Millisecond
	// commitInterval batches offset commits: an ack is committed at most this
	// late (and at once on close).
	commitInterval = 100 * time.Millisecond
)

// identityMetricPrefix names the throwaway counter a `weir` input creates
// while it is constructed: the incarnation's exporter answers with the stream
// id (Benthos gives components no other way to learn which stream they are
// in), which the input needs for its group member id "stream/<id>".
const identityMetricPrefix = "weir_identity_"

func weirInputSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Stable().
		Categories("Services").
		Summary("Consumes a weir topic, optionally as a consumer group.").
		Description(`
Reads the events of a durable weir topic. With a `+"`group`"+` the input joins that consumer group as
member `+"`stream/<id>`"+`, reads the partitions the group assigns to it, and commits an offset only after
the pipeline acknowledged every message before it (at-least-once; a nack delivers the batch again). The
committed offsets survive stream updates and weir restarts. Without a group it reads every partition from
`+"`start_from`"+` and commits nothing.

A missing topic is waited for: the input reports "not connected" (the stream shows in `+"`/ready`"+`) and
retries until the topic exists. A namespace, topic or group name that weir refuses is not an error at
creation either: the input stays "not connected" and its log says why.

### Metadata

Every message carries the event's headers plus `+"`weir_topic`, `weir_partition`, `weir_offset`, `weir_timestamp_unix_ms`"+`
and, for keyed events, `+"`weir_key`"+` (on a clash the `+"`weir_*`"+` value wins).`).
		Field(service.NewStringField("topic").Description("The topic to consume.")).
		Field(service.NewStringField("namespace").Description("The topic's namespace.").Default(config.DefaultNamespace)).
		Field(service.NewStringField("group").Description("Consumer group whose committed offsets survive restarts; empty reads without a group and commits nothing.").Default("")).
		Field(service.NewStringEnumField("start_from", "earliest", "latest").
			Description("Where to start on a partition without a committed offset.").Default("earliest")).
		Example("Topic to topic", "Consume topic `a` as group `g1`, transform, and produce to topic `b`.", `
input:
  weir:
    topic: a
    group: g1
pipeline:
  processors:
    - mapping: root = this
output:
  weir:
    topic: b
    partition_key: ${! this.user }
`)
}

func (env *Environment) registerWeirInput() error {
	return env.svc.RegisterBatchInput(weirInputName, weirInputSpec(),
		func(conf *service.ParsedConfig, mgr *service.Resources) (service.BatchInput, error) {
			in, err := env.newWeirInput(conf, mgr)
			if err != nil {
				return nil, err
			}
			// A nack re-delivers the same batch; the offset tracking below
			// only ever sees successful acks.
			return service.AutoRetryNacksBatched(in), nil
		})
}

// streamIdentity asks the incarnation's metrics exporter which stream a
// component is being built for ("" outside a weir stream).
func (env *Environment) streamIdentity(mgr *service.Resources) string {
	if mgr == nil || mgr.Metrics() == nil {
		return ""
	}
	token := newToken()
	mgr.Metrics().NewCounter(identityMetricPrefix + token)
	v, ok := env.identities.LoadAndDelete(token)
	if !ok {
		return ""
	}
	return v.(string)
}

type weirInput struct {
	topics    Topics
	log       zerolog.Logger
	ns, topic string
	group     string
	member    string
	startFrom config.StartFrom
	nameErr   error // a name weir refuses: never connects

	mu sync.Mutex
	// group mode
	joined  bool
	backlog []config.Chunk
	// tracks is keyed by topic and partition: the group assigns over the
	// union of its members' topics, so chunks of other topics arrive too.
	tracks  map[trackKey]*partitionTrack
	dirty   bool
	stopc   chan struct{}
	doneC   chan struct{}
	started bool
	// group-less mode
	positions map[int]int64
	parts     int
	nextPart  int
}

// trackKey names one partition of one topic.
type trackKey struct {
	topic     string
	partition int
}

// partitionTrack remembers the delivered, not yet committed ranges of one
// partition in delivery order; the commit point is the end of the longest
// acknowledged prefix.
type partitionTrack struct {
	ranges []*deliveredRange
	commit int64 // -1: nothing to commit yet
	sent   int64 // last committed value
}

type deliveredRange struct {
	start, end int64
	acked      bool
}

// validateNames checks a weir component's namespace, topic and (when set)
// group by weir's naming rules.
func validateNames(ns, topic, group string) error {
	if err := config.ValidateNamespace(ns); err != nil {
		return err
	}
	if err := config.ValidateTopic(topic); err != nil {
		return err
	}
	if group != "" {
		return config.ValidateGroup(group)
	}
	return nil
}

func (env *Environment) newWeirInput(conf *service.ParsedConfig, mgr *service.Resources) (*weirInput, error) {
	in := &weirInput{topics: env.topics, log: env.log, stopc: make(chan struct{}), doneC: make(chan struct{})}
	var err error
	if in.topic, err = conf.FieldString("topic"); err != nil {
		return nil, err
	}
	if in.ns, err = conf.FieldString("namespace"); err != nil {
		return nil, err
	}
	if in.group, err = conf.FieldString("group"); err != nil {
		return nil, err
	}
	sf, err := conf.FieldString("start_from")
	if err != nil {
		return nil, err
	}
	switch sf {
	case "earliest":
		in.startFrom = config.StartEarliest
	case "latest":
		in.startFrom = config.StartLatest
	default:
		return nil, fmt.Errorf("start_from must be earliest or latest, got %q", sf)
	}
	// Names weir refuses do not fail the stream's creation: like a topic
	// that does not exist yet, they leave the input not connected (spec
	// 3k), and Connect reports why on every retry.
	in.nameErr = validateNames(in.ns, in.topic, in.group)
	if in.group != "" {
		id := env.streamIdentity(mgr)
		if id == "" {
			id = newToken()
		}
		in.member = "stream/" + id
	}
	in.log = env.log.With().Str("topic", in.topic).Str("namespace", in.ns).Str("group", in.group).Logger()
	return in, nil
}

func (in *weirInput) Connect(ctx context.Context) error {
	if in.topics == nil {
		return errors.New("weir input: no engine attached")
	}
	if in.nameErr != nil {
		return fmt.Errorf("weir input: %w", in.nameErr)
	}
	if in.group == "" {
		return in.connectGroupless(ctx)
	}
	_, err := in.topics.JoinGroup(ctx, config.JoinRequest{
		Namespace: in.ns, Group: in.group, Member: in.member, Topics: []string{in.topic},
		StartFrom: in.startFrom, NoTimeout: true,
	})
	if err != nil {
		return err
	}
	in.mu.Lock()
	in.joined = true
	in.backlog = nil
	in.tracks = map[trackKey]*partitionTrack{}
	if !in.started {
		in.started = true
		go in.commitLoop()
	}
	in.mu.Unlock()
	return nil
}

func (in *weirInput) connectGroupless(ctx context.Context) error {
	info, err := in.topics.GetTopic(ctx, in.ns, in.topic)
	if err != nil {
		return err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	n := info.Props.Partitions
	if len(info.Partitions) > n {
		n = len(info.Partitions)
	}
	in.parts = n
	if in.positions == nil {
		in.positions = map[int]int64{}
		for _, p := range info.Partitions {
			if in.startFrom == config.StartEarliest {
				in.positions[p.Partition] = p.FirstOffset
			} else {
				in.positions[p.Partition] = p.NextOffset
			}
		}
	}
	return nil
}

func (in *weirInput) ReadBatch(ctx context.Context) (service.MessageBatch, service.AckFunc, error) {
	if in.group == "" {
		return in.readGroupless(ctx)
	}
	for {
		in.mu.Lock()
		if !in.joined {
			in.mu.Unlock()
			return nil, nil, service.ErrNotConnected
		}
		if len(in.backlog) > 0 {
			c := in.backlog[0]
			in.backlog = in.backlog[1:]
			b, ack := in.deliver(c)
			in.mu.Unlock()
			return b, ack, nil
		}
		in.mu.Unlock()
		res, err := in.topics.Poll(ctx, config.PollRequest{
			Namespace: in.ns, Member: in.member, Wait: inputPollWait,
			MaxEventsPerPartition: inputChunkEvents, MaxBytesPerPartition: inputChunkBytes,
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			if errors.Is(err, config.ErrNotMember) || errors.Is(err, config.ErrTopicNotFound) {
				in.mu.Lock()
				in.joined = false
				in.mu.Unlock()
				return nil, nil, service.ErrNotConnected
			}
			return nil, nil, err
		}
		in.mu.Lock()
		for _, c := range res.Chunks {
			if len(c.Events) > 0 {
				in.backlog = append(in.backlog, c)
			}
		}
		in.mu.Unlock()
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
	}
}

// deliver turns a chunk into a batch and records its range; called with mu.
func (in *weirInput) deliver(c config.Chunk) (service.MessageBatch, service.AckFunc) {
	b := make(service.MessageBatch, len(c.Events))
	for i, e := range c.Events {
		b[i] = eventMessage(c.Topic, e)
	}
	k := trackKey{topic: c.Topic, partition: c.Partition}
	tr := in.tracks[k]
	if tr == nil {
		tr = &partitionTrack{commit: -1, sent: -1}
		in.tracks[k] = tr
	}
	r := &deliveredRange{start: c.Events[0].Offset, end: c.Events[len(c.Events)-1].Offset + 1}
	tr.ranges = append(tr.ranges, r)
	tracks := in.tracks
	return b, func(ctx context.Context, err error) error {
		if err != nil {
			// AutoRetryNacksBatched never passes a nack through; be safe.
			return nil
		}
		in.mu.Lock()
		defer in.mu.Unlock()
		if tracks[k] != tr {
			// The member rejoined since: the group restarts from the
			// committed offset, so this ack has nothing left to advance.
			return nil
		}
		r.acked = true
		for len(tr.ranges) > 0 && tr.ranges[0].acked {
			tr.commit = tr.ranges[0].end
			tr.ranges = tr.ranges[1:]
			in.dirty = true
		}
		return nil
	}
}

func eventMessage(topic string, e config.Event) *service.Message {
	m := service.NewMessage(e.Body)
	for k, v := range e.Headers {
		m.MetaSetMut(k, v)
	}
	m.MetaSetMut(plugins.MetaTopic, topic)
	m.MetaSetMut(plugins.MetaPartition, strconv.Itoa(e.Partition))
	m.MetaSetMut(plugins.MetaOffset, strconv.FormatInt(e.Offset, 10))
	m.MetaSetMut(plugins.MetaTimestampUnixMs, strconv.FormatInt(e.Timestamp/1000, 10))
	if len(e.Key) > 0 {
		m.MetaSetMut(plugins.MetaKey, string(e.Key))
	}
	return m
}

// pendingCommits takes the offsets to commit; called with mu.
func (in *weirInput) pendingCommits() []config.PartitionOffset {
	if !in.dirty {
		return nil
	}
	in.dirty = false
	var out []config.PartitionOffset
	for k, tr := range in.tracks {
		if tr.commit >= 0 && tr.commit != tr.sent {
			out = append(out, config.PartitionOffset{Topic: k.topic, Partition: k.partition, Offset: tr.commit})
			tr.sent = tr.commit
		}
	}
	return out
}

func (in *weirInput) commitLoop() {
	defer close(in.doneC)
	t := time.NewTicker(commitInterval)
	defer t.Stop()
	for {
		select {
		case <-in.stopc:
			return
		case <-t.C:
			in.flushCommits()
		}
	}
}

func (in *weirInput) flushCommits() {
	in.mu.Lock()
	offs := in.pendingCommits()
	in.mu.Unlock()
	if len(offs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := in.topics.Commit(ctx, in.ns, in.member, offs); err != nil {
		// A revoked partition or a rejoin: the group keeps the last
		// accepted commit and redelivers from there (at-least-once).
		in.log.Debug().Err(err).Msg("commit rejected")
	}
}

func (in *weirInput) readGroupless(ctx context.Context) (service.MessageBatch, service.AckFunc, error) {
	for {
		in.mu.Lock()
		parts := in.parts
		in.mu.Unlock()
		if parts == 0 {
			return nil, nil, service.ErrNotConnected
		}
		for i := 0; i < parts; i++ {
			in.mu.Lock()
			p := in.nextPart % parts
			in.nextPart++
			pos := in.positions[p]
			in.mu.Unlock()
			res, err := in.topics.Fetch(ctx, in.ns, in.topic, p, pos, inputChunkEvents, inputChunkBytes)
			if err != nil {
				if ctx.Err() != nil {
					return nil, nil, ctx.Err()
				}
				if errors.Is(err, config.ErrTopicNotFound) {
					in.mu.Lock()
					in.parts = 0
					in.positions = nil
					in.mu.Unlock()
					return nil, nil, service.ErrNotConnected
				}
				return nil, nil, err
			}
			if len(res.Events) == 0 {
				if res.FirstOffset > pos {
					in.mu.Lock()
					in.positions[p] = res.FirstOffset
					in.mu.Unlock()
				}
				continue
			}
			in.mu.Lock()
			in.positions[p] = res.Events[len(res.Events)-1].Offset + 1
			in.mu.Unlock()
			b := make(service.MessageBatch, len(res.Events))
			for j, e := range res.Events {
				b[j] = eventMessage(in.topic, e)
			}
			return b, func(context.Context, error) error { return nil }, nil
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(inputIdleWait):
		}
	}
}

func (in *weirInput) Close(ctx context.Context) error {
	if in.group == "" {
		return nil
	}
	in.mu.Lock()
	started := in.started
	joined := in.joined
	in.mu.Unlock()
	if !started {
		return nil
	}
	select {
	case <-in.stopc:
	default:
		close(in.stopc)
	}
	<-in.doneC
	// Commit what was acknowledged, then leave so the group rebalances at once.
	in.flushCommits()
	if joined && in.topics != nil {
		if err := in.topics.LeaveGroup(ctx, in.ns, in.member, false); err != nil && !errors.Is(err, config.ErrNotMember) {
			in.log.Debug().Err(err).Msg("leave group")
		}
	}
	return nil
}
