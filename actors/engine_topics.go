package actors

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/weirflow/weir/config"
)

// Namespaces, topics, produce and reads: the Engine methods http/engine.go's
// Engine interface declares. Every name is validated before a message is
// sent, so no path is ever built from an invalid name.

// CreateNamespace creates a namespace; created is false when it existed.
func (e *Engine) CreateNamespace(ctx context.Context, name, description string) (bool, error) {
	if err := e.enter(); err != nil {
		return false, err
	}
	defer e.exit()
	if err := config.ValidateNamespace(name); err != nil {
		return false, err
	}
	r, err := ask[*createdResp](ctx, e, &createNamespaceReq{Name: name, Description: description}, "create namespace")
	if err != nil {
		return false, err
	}
	return r.Created, nil
}

// ListNamespaces lists every namespace, sorted by name.
func (e *Engine) ListNamespaces(ctx context.Context) ([]config.NamespaceInfo, error) {
	if err := e.enter(); err != nil {
		return nil, err
	}
	defer e.exit()
	r, err := ask[*namespacesResp](ctx, e, &listNamespacesReq{}, "list namespaces")
	if err != nil {
		return nil, err
	}
	return r.Items, nil
}

// GetNamespace describes one namespace.
func (e *Engine) GetNamespace(ctx context.Context, name string) (config.NamespaceInfo, error) {
	if err := e.enter(); err != nil {
		return config.NamespaceInfo{}, err
	}
	defer e.exit()
	if err := config.ValidateNamespace(name); err != nil {
		return config.NamespaceInfo{}, err
	}
	r, err := ask[*namespacesResp](ctx, e, &getNamespaceReq{Name: name}, "get namespace")
	if err != nil {
		return config.NamespaceInfo{}, err
	}
	return r.Items[0], nil
}

// DeleteNamespace deletes a namespace with its topics and groups (files
// included). The default namespace cannot be deleted.
func (e *Engine) DeleteNamespace(ctx context.Context, name string) error {
	if err := e.enter(); err != nil {
		return err
	}
	defer e.exit()
	if err := config.ValidateNamespace(name); err != nil {
		return err
	}
	_, err := ask[*okResp](ctx, e, &deleteNamespaceReq{Name: name}, "delete namespace")
	e.forgetTopics(name, "")
	return err
}

func validateTopicRef(ns, topic string) error {
	if err := config.ValidateNamespace(ns); err != nil {
		return err
	}
	return config.ValidateTopic(topic)
}

// CreateTopic creates a topic in an existing namespace (zero Partitions →
// storage.default_partitions). An existing topic is returned unchanged with
// created false. It answers once every partition is open, with their
// offsets in TopicInfo.Partitions, as GetTopic would.
func (e *Engine) CreateTopic(ctx context.Context, ns, topic string, props config.TopicProps) (config.TopicInfo, bool, error) {
	if err := e.enter(); err != nil {
		return config.TopicInfo{}, false, err
	}
	defer e.exit()
	if err := validateTopicRef(ns, topic); err != nil {
		return config.TopicInfo{}, false, err
	}
	r, err := ask[*topicResp](ctx, e, &createTopicReq{NS: ns, Topic: topic, Props: props}, "create topic")
	if err != nil {
		return config.TopicInfo{}, false, err
	}
	info := r.Info
	// The topic actor holds requests until all its partitions reported
	// ready, so these answers also prove the partitions exist.
	if info.Partitions, err = e.partitionInfos(ctx, r.Meta); err != nil {
		return config.TopicInfo{}, false, err
	}
	return info, r.Created, nil
}

// GetTopic describes a topic, with the offsets and sizes of all its
// partitions (one entry per partition, in order).
func (e *Engine) GetTopic(ctx context.Context, ns, topic string) (config.TopicInfo, error) {
	if err := e.enter(); err != nil {
		return config.TopicInfo{}, err
	}
	defer e.exit()
	if err := validateTopicRef(ns, topic); err != nil {
		return config.TopicInfo{}, err
	}
	r, err := ask[*topicResp](ctx, e, &getTopicReq{NS: ns, Topic: topic}, "get topic")
	if err != nil {
		return config.TopicInfo{}, err
	}
	info := r.Info
	if info.Partitions, err = e.partitionInfos(ctx, r.Meta); err != nil {
		return config.TopicInfo{}, err
	}
	return info, nil
}

// partitionInfos asks every partition of a topic for its offsets, in
// parallel.
func (e *Engine) partitionInfos(ctx context.Context, meta topicMeta) ([]config.PartitionInfo, error) {
	type res struct {
		r   *partitionInfoResp
		err error
	}
	ch := make([]chan res, meta.Partitions)
	for i := range ch {
		ch[i] = make(chan res, 1)
		go func() {
			r, err := askPID[*partitionInfoResp](ctx, e, meta.PID, &toPartition{Partition: i, Msg: &partitionInfoReq{}}, "partition info", 0)
			ch[i] <- res{r, err}
		}()
	}
	out := make([]config.PartitionInfo, meta.Partitions)
	for i := range ch {
		r := <-ch[i]
		if r.err != nil {
			return nil, r.err
		}
		out[i] = r.r.Info
		// A partition whose log cannot be opened still answers, with its
		// index only; it is listed all the same.
		out[i].Partition = i
	}
	return out, nil
}

// ListTopics lists a namespace's topics sorted by name (without partition
// details; GetTopic has them).
func (e *Engine) ListTopics(ctx context.Context, ns string) ([]config.TopicInfo, error) {
	if err := e.enter(); err != nil {
		return nil, err
	}
	defer e.exit()
	if err := config.ValidateNamespace(ns); err != nil {
		return nil, err
	}
	r, err := ask[*topicsResp](ctx, e, &listTopicsReq{NS: ns}, "list topics")
	if err != nil {
		return nil, err
	}
	out := make([]config.TopicInfo, 0, len(r.Items))
	for _, it := range r.Items {
		out = append(out, it.Info)
	}
	return out, nil
}

// SetTopicProps replaces a topic's properties (the partition count cannot
// change; zero keeps it).
func (e *Engine) SetTopicProps(ctx context.Context, ns, topic string, props config.TopicProps) error {
	if err := e.enter(); err != nil {
		return err
	}
	defer e.exit()
	if err := validateTopicRef(ns, topic); err != nil {
		return err
	}
	_, err := ask[*okResp](ctx, e, &setTopicPropsReq{NS: ns, Topic: topic, Props: props}, "set topic properties")
	return err
}

// TruncateTopic removes every event of every partition, synchronously;
// offsets keep growing.
func (e *Engine) TruncateTopic(ctx context.Context, ns, topic string) error {
	if err := e.enter(); err != nil {
		return err
	}
	defer e.exit()
	if err := validateTopicRef(ns, topic); err != nil {
		return err
	}
	_, err := ask[*okResp](ctx, e, &truncateReq{NS: ns, Topic: topic}, "truncate topic")
	return err
}

// DeleteTopic deletes a topic incarnation: out of every group's assignment,
// committed offsets dropped, files removed before the answer.
func (e *Engine) DeleteTopic(ctx context.Context, ns, topic string) error {
	if err := e.enter(); err != nil {
		return err
	}
	defer e.exit()
	if err := validateTopicRef(ns, topic); err != nil {
		return err
	}
	_, err := ask[*okResp](ctx, e, &deleteTopicReq{NS: ns, Topic: topic}, "delete topic")
	e.forgetTopics(ns, topic)
	return err
}

// Produce appends one request atomically to one partition and answers
// after it is fsynced. The messages' bytes are not copied on the way: once
// Produce returned nil nothing reads them again (the caller may reuse the
// buffers), but after an error, a timeout above all, the request may still
// be queued in its partition and written later, so they must stay intact.
func (e *Engine) Produce(ctx context.Context, req config.ProduceRequest) (config.ProduceResult, error) {
	if err := e.enter(); err != nil {
		return config.ProduceResult{}, err
	}
	defer e.exit()
	return e.produce(ctx, req)
}

func (e *Engine) produce(ctx context.Context, req config.ProduceRequest) (config.ProduceResult, error) {
	if err := validateTopicRef(req.Namespace, req.Topic); err != nil {
		return config.ProduceResult{}, err
	}
	key := nsKey(req.Namespace, req.Topic)
	for attempt := 0; ; attempt++ {
		pid, err := e.topicPID(ctx, key, req)
		if err != nil {
			return config.ProduceResult{}, err
		}
		r, err := e.askProduce(ctx, pid, req)
		if err != nil && errors.Is(err, errStopped) && attempt == 0 {
			// A dead letter: that incarnation is gone (deleted, or the
			// engine is stopping) and did not see the request. Resolve the
			// name again, once.
			e.topicPIDs.CompareAndDelete(key, pid)
			continue
		}
		if err != nil {
			return config.ProduceResult{}, err
		}
		return r, nil
	}
}

// replyChans recycles the reply channels of answered produce calls. Only a
// channel whose one answer was received goes back: a call that timed out
// may still get its late answer, so its channel is left to the GC.
var replyChans = sync.Pool{New: func() any { return make(chan produceAnswer, 1) }}

// timers recycles the request-timeout timers of produce calls: a new timer
// per call was three allocations and timer-heap churn on the hot path.
var timers = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}}

// askProduce sends req to a topic actor and waits for the partition's
// answer on a channel (see replyTo), up to ctx's deadline or the request
// timeout. A topic actor that is no longer registered (a deleted
// incarnation) gives errStopped without sending, like a dead letter would.
func (e *Engine) askProduce(ctx context.Context, pid *actor.PID, req config.ProduceRequest) (config.ProduceResult, error) {
	var timeout <-chan time.Time
	if _, ok := ctx.Deadline(); ok {
		if ctx.Err() != nil {
			return config.ProduceResult{}, fmt.Errorf("%w: deadline passed", config.ErrTimeout)
		}
	} else {
		// No deadline of the caller's: the request timeout bounds the wait.
		t := timers.Get().(*time.Timer)
		t.Reset(e.sh.reqTimeout)
		defer func() {
			t.Stop() // since Go 1.23 a stopped timer delivers no stale tick
			timers.Put(t)
		}()
		timeout = t.C
	}
	gone, ok := e.sh.topicGone.Load(pid.Id)
	if !ok {
		return config.ProduceResult{}, mapActorErr(actor.ErrDeadLetter, "produce")
	}
	if _, ok := e.system.ProcessRegistry.Get(pid); !ok {
		return config.ProduceResult{}, mapActorErr(actor.ErrDeadLetter, "produce")
	}
	ch := replyChans.Get().(chan produceAnswer)
	e.system.Root.Send(pid, &produceReq{Req: req, Reply: ch})
	select {
	case a := <-ch:
		replyChans.Put(ch)
		return a.res, a.err
	case <-gone.(chan struct{}):
		// The incarnation stopped (deleted, or the engine is stopping).
		// Its answer, if it gave one, is already in ch; otherwise it never
		// handled the request, which is then safe to resend.
		select {
		case a := <-ch:
			replyChans.Put(ch)
			return a.res, a.err
		default:
		}
		return config.ProduceResult{}, mapActorErr(actor.ErrDeadLetter, "produce")
	case <-timeout:
		return config.ProduceResult{}, mapActorErr(actor.ErrTimeout, "produce")
	case <-ctx.Done():
		return config.ProduceResult{}, mapActorErr(ctx.Err(), "produce")
	}
}

// topicPID returns the cached topic actor for key, or asks the manager for
// it (creating the topic when the request allows) and caches it.
func (e *Engine) topicPID(ctx context.Context, key string, req config.ProduceRequest) (*actor.PID, error) {
	if v, ok := e.topicPIDs.Load(key); ok {
		return v.(*actor.PID), nil
	}
	r, err := ask[*topicsResp](ctx, e, &resolveTopicsReq{NS: req.Namespace, Topics: []string{req.Topic}, Create: req.CreateTopic}, "produce")
	if err != nil {
		return nil, err
	}
	pid := r.Items[0].Meta.PID
	e.topicPIDs.Store(key, pid)
	return pid, nil
}

// forgetTopics drops cached topic actors of ns (of one topic, or all when
// topic is empty) after a delete; entries missed here are dropped at their
// first dead letter.
func (e *Engine) forgetTopics(ns, topic string) {
	if topic != "" {
		e.topicPIDs.Delete(nsKey(ns, topic))
		return
	}
	prefix := nsKey(ns, "")
	e.topicPIDs.Range(func(k, _ any) bool {
		if strings.HasPrefix(k.(string), prefix) {
			e.topicPIDs.Delete(k)
		}
		return true
	})
}

// ProduceAsync checks the request (the topic must exist, or be creatable
// with CreateTopic), queues it in memory and returns; queued requests are
// written FIFO per topic and failures are logged. When the queue
// (cdap.async_queue_size events) is full it waits for room until ctx ends,
// then returns ErrBusy.
func (e *Engine) ProduceAsync(ctx context.Context, req config.ProduceRequest) error {
	if err := e.enter(); err != nil {
		return err
	}
	defer e.exit()
	if err := validateTopicRef(req.Namespace, req.Topic); err != nil {
		return err
	}
	if _, err := ask[*topicsResp](ctx, e, &resolveTopicsReq{NS: req.Namespace, Topics: []string{req.Topic}, Create: req.CreateTopic}, "produce async"); err != nil {
		return err
	}
	return e.async.enqueue(ctx, req)
}

// ReadRange returns up to limit events with fromMicros ≤ timestamp <
// toMicros from every partition, merged by (timestamp, partition, offset).
// Events older than the topic's TTL are not returned.
func (e *Engine) ReadRange(ctx context.Context, ns, topic string, fromMicros, toMicros int64, limit int) ([]config.Event, error) {
	if err := e.enter(); err != nil {
		return nil, err
	}
	defer e.exit()
	if err := validateTopicRef(ns, topic); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, fmt.Errorf("%w: limit must be positive, not %d", config.ErrInvalidArgument, limit)
	}
	r, err := ask[*readRangeResp](ctx, e, &readRangeReq{NS: ns, Topic: topic, From: fromMicros, To: toMicros, Limit: limit}, "read range")
	if err != nil {
		return nil, err
	}
	return r.Events, nil
}

// Fetch reads one partition from offset: at least one event if any exists
// at or after offset (offsets below the first retained read from it), at
// most maxEvents/maxBytes (capped at 1000 events / 1 MiB; ≤ 0 means the cap).
func (e *Engine) Fetch(ctx context.Context, ns, topic string, partition int, offset int64, maxEvents, maxBytes int) (config.FetchResult, error) {
	if err := e.enter(); err != nil {
		return config.FetchResult{}, err
	}
	defer e.exit()
	if err := validateTopicRef(ns, topic); err != nil {
		return config.FetchResult{}, err
	}
	r, err := ask[*fetchResp](ctx, e, &fetchReq{NS: ns, Topic: topic, Partition: partition, Offset: offset,
		MaxEvents: maxEvents, MaxBytes: maxBytes}, "fetch")
	if err != nil {
		return config.FetchResult{}, err
	}
	return r.Result, nil
}
