package actors

import (
	"context"
	"errors"
	"fmt"

	"github.com/weirflow/weir/config"
)

// JoinGroup registers a member (spec/polarstreams.md §5). The Engine
// resolves (or creates) the topics and measures the start offsets here, in
// the caller's goroutine, so the group actor never waits on a partition.
func (e *Engine) JoinGroup(ctx context.Context, req config.JoinRequest) (config.JoinResult, error) {
	if err := e.enter(); err != nil {
		return config.JoinResult{}, err
	}
	defer e.exit()
	if err := config.ValidateNamespace(req.Namespace); err != nil {
		return config.JoinResult{}, err
	}
	if err := config.ValidateGroup(req.Group); err != nil {
		return config.JoinResult{}, err
	}
	if req.Member == "" {
		return config.JoinResult{}, fmt.Errorf("%w: member id is empty", config.ErrInvalidArgument)
	}
	if len(req.Topics) == 0 {
		return config.JoinResult{}, fmt.Errorf("%w: member %s names no topic", config.ErrInvalidArgument, req.Member)
	}
	topics := uniqueSorted(req.Topics)
	for _, t := range topics {
		if err := config.ValidateTopic(t); err != nil {
			return config.JoinResult{}, err
		}
	}
	req.Topics = topics
	for attempt := 1; ; attempt++ {
		res, err := e.joinOnce(ctx, req)
		if err == nil || !req.CreateTopics || !(errors.Is(err, config.ErrTopicNotFound) || errors.Is(err, errStopped)) {
			return res, err
		}
		// A topic this join creates was deleted between being resolved
		// (created) and the join, or while its partitions were asked for
		// their offsets: resolve it again. A join that keeps
		// losing that race gets a retryable error, not "no such topic"
		// for a topic it was asked to create.
		if attempt == joinAttempts || ctx.Err() != nil {
			return config.JoinResult{}, fmt.Errorf("%w: a topic of the join was deleted while joining, %d times: %v",
				config.ErrUnavailable, attempt, err)
		}
	}
}

// joinAttempts bounds how often a topic-creating join starts over after
// its topic was deleted under it.
const joinAttempts = 5

// joinOnce resolves (creating if asked) the topics, measures the start
// offsets and asks the manager to join.
func (e *Engine) joinOnce(ctx context.Context, req config.JoinRequest) (config.JoinResult, error) {
	topics := req.Topics
	tr, err := ask[*topicsResp](ctx, e, &resolveTopicsReq{NS: req.Namespace, Topics: topics, Create: req.CreateTopics}, "join: resolve topics")
	if err != nil {
		return config.JoinResult{}, err
	}
	metas := make([]topicMeta, len(tr.Items))
	starts := map[string]int64{}
	for i, it := range tr.Items {
		metas[i] = it.Meta
		infos, err := e.partitionInfos(ctx, it.Meta)
		if err != nil {
			return config.JoinResult{}, err
		}
		for p, pi := range infos {
			start := pi.NextOffset
			if req.StartFrom == config.StartEarliest {
				start = pi.FirstOffset
			}
			starts[offsetKey(it.Meta.ID, p)] = start
		}
	}
	r, err := ask[*joinResp](ctx, e, &joinReq{Req: req, Metas: metas, Starts: starts}, "join group")
	if err != nil {
		return config.JoinResult{}, err
	}
	return r.Result, nil
}

// Poll hands the member its next chunks (auto-committing the previous poll
// first when asked). With Wait it holds until data arrives, the wait ends or
// the member is removed.
func (e *Engine) Poll(ctx context.Context, req config.PollRequest) (config.PollResult, error) {
	if err := e.enter(); err != nil {
		return config.PollResult{}, err
	}
	defer e.exit()
	if err := config.ValidateNamespace(req.Namespace); err != nil {
		return config.PollResult{}, err
	}
	if req.Wait < 0 {
		return config.PollResult{}, fmt.Errorf("%w: negative wait", config.ErrInvalidArgument)
	}
	token := e.pollSeq.Add(1)
	r, err := askPID[*pollResp](ctx, e, e.manager, &pollReq{Req: req, Token: token}, "poll", req.Wait)
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, config.ErrTimeout) {
			// Nobody will read the group's answer. Tell the group before
			// returning, so this reaches it ahead of the caller's next
			// poll (both go through the manager's mailbox in order).
			e.system.Root.Send(e.manager, &pollAbandon{NS: req.Namespace, Member: req.Member, Token: token})
		}
		return config.PollResult{}, err
	}
	return r.Result, nil
}

// Commit makes offsets durable: with none given, the member's delivered
// positions; otherwise the given ones, on partitions it owns now.
func (e *Engine) Commit(ctx context.Context, ns, member string, offsets []config.PartitionOffset) error {
	if err := e.enter(); err != nil {
		return err
	}
	defer e.exit()
	if err := config.ValidateNamespace(ns); err != nil {
		return err
	}
	_, err := ask[*okResp](ctx, e, &commitReq{NS: ns, Member: member, Offsets: offsets}, "commit")
	return err
}

// LeaveGroup commits (if asked) and removes the member; the group
// rebalances at once.
func (e *Engine) LeaveGroup(ctx context.Context, ns, member string, commit bool) error {
	if err := e.enter(); err != nil {
		return err
	}
	defer e.exit()
	if err := config.ValidateNamespace(ns); err != nil {
		return err
	}
	_, err := ask[*okResp](ctx, e, &leaveReq{NS: ns, Member: member, Commit: commit}, "leave group")
	return err
}

// ListGroups describes every known group of a namespace, sorted by name.
func (e *Engine) ListGroups(ctx context.Context, ns string) ([]config.GroupInfo, error) {
	if err := e.enter(); err != nil {
		return nil, err
	}
	defer e.exit()
	if err := config.ValidateNamespace(ns); err != nil {
		return nil, err
	}
	gr, err := ask[*groupsResp](ctx, e, &listGroupsReq{NS: ns}, "list groups")
	if err != nil {
		return nil, err
	}
	out := make([]config.GroupInfo, 0, len(gr.PIDs))
	for i, pid := range gr.PIDs {
		r, err := askPID[*groupInfoResp](ctx, e, pid, &describeGroupReq{NS: ns, Group: gr.Names[i]}, "describe group", 0)
		if err != nil {
			return nil, err
		}
		info, err := e.withEnds(ctx, r)
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

// DescribeGroup describes one group; a group nobody joined is empty.
func (e *Engine) DescribeGroup(ctx context.Context, ns, group string) (config.GroupInfo, error) {
	if err := e.enter(); err != nil {
		return config.GroupInfo{}, err
	}
	defer e.exit()
	if err := config.ValidateNamespace(ns); err != nil {
		return config.GroupInfo{}, err
	}
	if err := config.ValidateGroup(group); err != nil {
		return config.GroupInfo{}, err
	}
	r, err := ask[*groupInfoResp](ctx, e, &describeGroupReq{NS: ns, Group: group}, "describe group")
	if err != nil {
		return config.GroupInfo{}, err
	}
	return e.withEnds(ctx, r)
}

// withEnds fills in end offsets and lag from the partitions.
func (e *Engine) withEnds(ctx context.Context, r *groupInfoResp) (config.GroupInfo, error) {
	info := r.Info
	ends := map[tp]int64{}
	for _, meta := range r.Meta {
		infos, err := e.partitionInfos(ctx, meta)
		if err != nil {
			return config.GroupInfo{}, err
		}
		for p, pi := range infos {
			ends[tp{meta.Name, p}] = pi.NextOffset
		}
	}
	for i := range info.Partitions {
		gp := &info.Partitions[i]
		gp.End = ends[tp{gp.Topic, gp.Partition}]
		if gp.Committed >= 0 && gp.End > gp.Committed {
			gp.Lag = gp.End - gp.Committed
		} else if gp.Committed < 0 {
			gp.Lag = gp.End
		}
	}
	return info, nil
}
