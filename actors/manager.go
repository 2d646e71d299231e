package actors

import (
	"fmt"
	"os"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/weirflow/weir/config"
)

// maxPartitions bounds a topic's partition count: each partition is an
// actor with an open log, so an absurd count is a client mistake.
const maxPartitions = 1024

// manager is the root supervisor: it owns the catalog, spawns one topic
// actor per topic incarnation and one actor per consumer group, routes
// Engine requests to them, and keeps the namespace-wide registry of member
// ids. Catalog writes happen here, synchronously, before the answer.
type manager struct {
	sh  *shared
	cat *catalog
	log zerolog.Logger

	topics  map[string]*topicHandle      // nsKey(ns, topic)
	groups  map[string]*actor.PID        // nsKey(ns, group)
	members map[string]map[string]string // ns → member → group
}

type topicHandle struct {
	pid  *actor.PID
	meta topicMeta
}

func nsKey(ns, name string) string { return ns + "\x00" + name }

func newManagerProps(sh *shared, cat *catalog) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor {
		return &manager{sh: sh, cat: cat, log: sh.log,
			topics: map[string]*topicHandle{}, groups: map[string]*actor.PID{}, members: map[string]map[string]string{}}
	}, actor.WithSupervisor(actor.NewRestartingStrategy()))
}

func (m *manager) Receive(ctx actor.Context) {
	defer logPanic(m.log, ctx)
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		m.start(ctx)
	case *spawnChildReq:
		pid, err := ctx.SpawnNamed(msg.props, msg.name)
		msg.reply <- spawnChildResult{pid: pid, err: err}
	case *createNamespaceReq:
		m.onCreateNamespace(ctx, msg)
	case *listNamespacesReq:
		resp := &namespacesResp{Items: []config.NamespaceInfo{}}
		for _, n := range m.cat.namespaceNames() {
			ns, _ := m.cat.namespace(n)
			resp.Items = append(resp.Items, config.NamespaceInfo{Name: n, Description: ns.Description})
		}
		ctx.Respond(resp)
	case *getNamespaceReq:
		ns, ok := m.cat.namespace(msg.Name)
		if !ok {
			ctx.Respond(&failure{err: fmt.Errorf("%w: %s", config.ErrNamespaceNotFound, msg.Name)})
			return
		}
		ctx.Respond(&namespacesResp{Items: []config.NamespaceInfo{{Name: msg.Name, Description: ns.Description}}})
	case *deleteNamespaceReq:
		m.onDeleteNamespace(ctx, msg)
	case *createTopicReq:
		resp, err := m.createTopic(ctx, msg.NS, msg.Topic, msg.Props)
		m.answer(ctx, resp, err)
	case *getTopicReq:
		h, rec, err := m.lookup(msg.NS, msg.Topic)
		if err != nil {
			ctx.Respond(&failure{err: err})
			return
		}
		ctx.Respond(m.topicResp(msg.NS, msg.Topic, h, rec, false))
	case *listTopicsReq:
		ns, ok := m.cat.namespace(msg.NS)
		if !ok {
			ctx.Respond(&failure{err: fmt.Errorf("%w: %s", config.ErrNamespaceNotFound, msg.NS)})
			return
		}
		resp := &topicsResp{Items: []*topicResp{}}
		for _, name := range sortedKeys(ns.Topics) {
			resp.Items = append(resp.Items, m.topicResp(msg.NS, name, m.topics[nsKey(msg.NS, name)], ns.Topics[name], false))
		}
		ctx.Respond(resp)
	case *setTopicPropsReq:
		m.onSetProps(ctx, msg)
	case *deleteTopicReq:
		m.onDeleteTopic(ctx, msg)
	case *resolveTopicsReq:
		resp := &topicsResp{}
		for _, name := range msg.Topics {
			var r *topicResp
			var err error
			if msg.Create {
				r, err = m.createTopic(ctx, msg.NS, name, config.DefaultTopicProps())
			} else {
				h, rec, lerr := m.lookup(msg.NS, name)
				if err = lerr; err == nil {
					r = m.topicResp(msg.NS, name, h, rec, false)
				}
			}
			if err != nil {
				ctx.Respond(&failure{err: err})
				return
			}
			resp.Items = append(resp.Items, r)
		}
		ctx.Respond(resp)
	case *produceReq:
		m.onProduce(ctx, msg)
	case *readRangeReq:
		m.forwardToTopic(ctx, msg.NS, msg.Topic)
	case *fetchReq:
		m.forwardToTopic(ctx, msg.NS, msg.Topic)
	case *truncateReq:
		m.forwardToTopic(ctx, msg.NS, msg.Topic)
	case *joinReq:
		m.onJoin(ctx, msg)
	case *pollReq:
		m.forwardToMember(ctx, msg.Req.Namespace, msg.Req.Member)
	case *pollAbandon:
		// Fire-and-forget: a member that is gone has nothing to undo.
		if g, ok := m.members[msg.NS][msg.Member]; ok {
			if pid := m.groups[nsKey(msg.NS, g)]; pid != nil {
				ctx.Send(pid, msg)
			}
		}
	case *commitReq:
		m.forwardToMember(ctx, msg.NS, msg.Member)
	case *leaveReq:
		m.forwardToMember(ctx, msg.NS, msg.Member)
	case *memberGone:
		if reg := m.members[msg.NS]; reg != nil && reg[msg.Member] == msg.Group {
			delete(reg, msg.Member)
		}
	case *groupRestarted:
		// A restarted group has no members: free their ids here too, then
		// give it the current topics. Joins forwarded before this point
		// reach the group ahead of groupReset, which drops them there.
		for member, group := range m.members[msg.NS] {
			if group == msg.Group {
				delete(m.members[msg.NS], member)
			}
		}
		if pid := m.groups[nsKey(msg.NS, msg.Group)]; pid != nil {
			ctx.Send(pid, &groupReset{Metas: m.nsMetas(msg.NS)})
		}
	case *listGroupsReq:
		ns, ok := m.cat.namespace(msg.NS)
		if !ok {
			ctx.Respond(&failure{err: fmt.Errorf("%w: %s", config.ErrNamespaceNotFound, msg.NS)})
			return
		}
		resp := &groupsResp{}
		for _, name := range sortedKeys(ns.Groups) {
			if pid := m.groups[nsKey(msg.NS, name)]; pid != nil {
				resp.Names = append(resp.Names, name)
				resp.PIDs = append(resp.PIDs, pid)
			}
		}
		ctx.Respond(resp)
	case *describeGroupReq:
		if _, ok := m.cat.namespace(msg.NS); !ok {
			ctx.Respond(&failure{err: fmt.Errorf("%w: %s", config.ErrNamespaceNotFound, msg.NS)})
			return
		}
		pid := m.groups[nsKey(msg.NS, msg.Group)]
		if pid == nil {
			// A group nobody joined has no members and no offsets: it is
			// described as empty rather than missing.
			ctx.Respond(&groupInfoResp{Info: config.GroupInfo{Namespace: msg.NS, Name: msg.Group,
				Members: []config.GroupMember{}, Partitions: []config.GroupPartition{}}})
			return
		}
		ctx.Forward(pid)
	case *notifyCounters:
		m.saveCounters([]*topicDrained{{NS: msg.NS, Topic: msg.Topic, ID: msg.ID, NotifyCount: msg.NotifyCount, NotifiedAt: msg.NotifiedAt}})
	case *saveCounters:
		m.saveCounters(msg.Items)
		ctx.Respond(&okResp{})
	case *drainAllReq:
		m.gather(ctx, m.topicPIDs(), func() any { return &topicDrain{} }, func(res []any) any {
			var items []*topicDrained
			for _, r := range res {
				if d, ok := r.(*topicDrained); ok {
					items = append(items, d)
				}
			}
			return &saveCounters{Items: items}
		})
	case *retentionAllReq:
		m.gather(ctx, m.topicPIDs(), func() any { return &topicRetention{} }, nil)
	case *releasePollsReq:
		pids := make([]*actor.PID, 0, len(m.groups))
		for _, pid := range m.groups {
			pids = append(pids, pid)
		}
		m.gather(ctx, pids, func() any { return &releasePollsReq{} }, nil)
	}
}

func (m *manager) answer(ctx actor.Context, resp any, err error) {
	if err != nil {
		ctx.Respond(&failure{err: err})
		return
	}
	ctx.Respond(resp)
}

// start spawns an actor for every topic and group in the catalog and removes
// directories no catalog entry names (a delete that crashed half way).
func (m *manager) start(ctx actor.Context) {
	for _, dir := range m.cat.orphanDirs() {
		m.log.Warn().Str("dir", dir).Msg("removing data of a deleted topic or group")
		if err := os.RemoveAll(dir); err != nil {
			m.log.Error().Err(err).Str("dir", dir).Msg("cannot remove orphaned directory")
		}
	}
	for _, nsName := range m.cat.namespaceNames() {
		ns, _ := m.cat.namespace(nsName)
		for _, name := range sortedKeys(ns.Topics) {
			m.spawnTopic(ctx, nsName, name, ns.Topics[name])
		}
		for _, name := range sortedKeys(ns.Groups) {
			m.spawnGroup(ctx, nsName, name, ns.Groups[name])
		}
	}
}

func (m *manager) spawnTopic(ctx actor.Context, ns, name string, rec *topicRecord) *topicHandle {
	gone := make(chan struct{})
	pid, err := ctx.SpawnNamed(newTopicProps(m.sh, ns, name, rec, m.cat.topicDir(rec.ID), gone), rec.ID)
	if err != nil {
		panic(fmt.Sprintf("spawn topic %s/%s: %v", ns, name, err))
	}
	m.sh.topicGone.Store(pid.Id, gone)
	h := &topicHandle{pid: pid, meta: topicMeta{Name: name, ID: rec.ID, Partitions: rec.Props.Partitions, PID: pid}}
	m.topics[nsKey(ns, name)] = h
	return h
}

func (m *manager) nsMetas(ns string) []topicMeta {
	n, ok := m.cat.namespace(ns)
	if !ok {
		return nil
	}
	var out []topicMeta
	for _, name := range sortedKeys(n.Topics) {
		if h := m.topics[nsKey(ns, name)]; h != nil {
			out = append(out, h.meta)
		}
	}
	return out
}

func (m *manager) spawnGroup(ctx actor.Context, ns, name string, rec *groupRecord) *actor.PID {
	pid, err := ctx.SpawnNamed(newGroupProps(m.sh, ns, name, rec.ID, m.cat.groupDir(rec.ID), m.nsMetas(ns)), rec.ID)
	if err != nil {
		panic(fmt.Sprintf("spawn group %s/%s: %v", ns, name, err))
	}
	m.groups[nsKey(ns, name)] = pid
	return pid
}

func (m *manager) lookup(ns, name string) (*topicHandle, *topicRecord, error) {
	rec, err := m.cat.topic(ns, name)
	if err != nil {
		return nil, nil, err
	}
	return m.topics[nsKey(ns, name)], rec, nil
}

func (m *manager) topicResp(ns, name string, h *topicHandle, rec *topicRecord, created bool) *topicResp {
	return &topicResp{
		Info:    config.TopicInfo{Namespace: ns, Name: name, ID: rec.ID, Props: rec.Props, Created: rec.Created},
		Meta:    h.meta,
		Created: created,
	}
}

func (m *manager) onCreateNamespace(ctx actor.Context, msg *createNamespaceReq) {
	if _, ok := m.cat.namespace(msg.Name); ok {
		ctx.Respond(&createdResp{Created: false})
		return
	}
	err := m.cat.update(func(s *catalogState) error {
		s.Namespaces[msg.Name] = newNSRecord(msg.Description)
		return nil
	})
	m.answer(ctx, &createdResp{Created: true}, err)
}

// normalizeProps applies defaults to a copy of the caller's properties.
func (m *manager) normalizeProps(p config.TopicProps) (config.TopicProps, error) {
	if p.Partitions == 0 {
		p.Partitions = m.sh.cfg.Storage.DefaultPartitions
		if p.Partitions <= 0 {
			p.Partitions = 1
		}
	}
	if p.Partitions < 0 || p.Partitions > maxPartitions {
		return p, fmt.Errorf("%w: partitions must be 1-%d, not %d", config.ErrInvalidArgument, maxPartitions, p.Partitions)
	}
	if p.TTLMillis < 0 {
		return p, fmt.Errorf("%w: ttl must not be negative", config.ErrInvalidArgument)
	}
	if p.NotificationThresholdMB <= 0 {
		p.NotificationThresholdMB = config.DefaultNotificationThresholdMB
	}
	return p, nil
}

// createTopic creates a topic in an existing namespace, or returns the
// existing one (Created false).
func (m *manager) createTopic(ctx actor.Context, ns, name string, props config.TopicProps) (*topicResp, error) {
	nsRec, ok := m.cat.namespace(ns)
	if !ok {
		return nil, fmt.Errorf("%w: %s", config.ErrNamespaceNotFound, ns)
	}
	if rec, ok := nsRec.Topics[name]; ok {
		return m.topicResp(ns, name, m.topics[nsKey(ns, name)], rec, false), nil
	}
	props, err := m.normalizeProps(props)
	if err != nil {
		return nil, err
	}
	var rec *topicRecord
	if err := m.cat.update(func(s *catalogState) error {
		rec = &topicRecord{ID: s.newID("t"), Props: props, Created: time.Now().UTC()}
		s.Namespaces[ns].Topics[name] = rec
		return nil
	}); err != nil {
		return nil, err
	}
	rec = m.cat.state.Namespaces[ns].Topics[name]
	h := m.spawnTopic(ctx, ns, name, rec)
	m.log.Info().Str("namespace", ns).Str("topic", name).Str("topic_id", rec.ID).Int("partitions", props.Partitions).Msg("topic created")
	for key, pid := range m.groups {
		if groupNS(key) == ns {
			ctx.Send(pid, &topicCreated{Meta: h.meta})
		}
	}
	return m.topicResp(ns, name, h, rec, true), nil
}

func groupNS(key string) string {
	for i := 0; i < len(key); i++ {
		if key[i] == 0 {
			return key[:i]
		}
	}
	return key
}

func (m *manager) onSetProps(ctx actor.Context, msg *setTopicPropsReq) {
	h, rec, err := m.lookup(msg.NS, msg.Topic)
	if err != nil {
		ctx.Respond(&failure{err: err})
		return
	}
	props := msg.Props
	if props.Partitions != 0 && props.Partitions != rec.Props.Partitions {
		ctx.Respond(&failure{err: fmt.Errorf("%w: the partition count of %s/%s is fixed at %d",
			config.ErrInvalidArgument, msg.NS, msg.Topic, rec.Props.Partitions)})
		return
	}
	props.Partitions = rec.Props.Partitions
	if props, err = m.normalizeProps(props); err != nil {
		ctx.Respond(&failure{err: err})
		return
	}
	if err := m.cat.update(func(s *catalogState) error {
		s.Namespaces[msg.NS].Topics[msg.Topic].Props = props
		return nil
	}); err != nil {
		ctx.Respond(&failure{err: err})
		return
	}
	ctx.Send(h.pid, &setTopicProps{Props: props})
	ctx.Respond(&okResp{})
}

func (m *manager) onProduce(ctx actor.Context, msg *produceReq) {
	h := m.topics[nsKey(msg.Req.Namespace, msg.Req.Topic)]
	if h == nil {
		if !msg.Req.CreateTopic {
			_, _, err := m.lookup(msg.Req.Namespace, msg.Req.Topic)
			msg.replyTo(ctx.Sender()).fail(ctx.ActorSystem(), err)
			return
		}
		r, err := m.createTopic(ctx, msg.Req.Namespace, msg.Req.Topic, config.DefaultTopicProps())
		if err != nil {
			msg.replyTo(ctx.Sender()).fail(ctx.ActorSystem(), err)
			return
		}
		h = &topicHandle{pid: m.topics[nsKey(msg.Req.Namespace, msg.Req.Topic)].pid, meta: r.Meta}
	}
	ctx.Forward(h.pid)
}

func (m *manager) forwardToTopic(ctx actor.Context, ns, topic string) {
	h := m.topics[nsKey(ns, topic)]
	if h == nil {
		_, _, err := m.lookup(ns, topic)
		ctx.Respond(&failure{err: err})
		return
	}
	ctx.Forward(h.pid)
}

// onDeleteTopic removes the topic from the catalog first (so it is gone for
// every new request), tells the groups, then drains and stops its actors and
// removes its files in a goroutine, answering when the files are gone.
func (m *manager) onDeleteTopic(ctx actor.Context, msg *deleteTopicReq) {
	h, rec, err := m.lookup(msg.NS, msg.Topic)
	if err != nil {
		ctx.Respond(&failure{err: err})
		return
	}
	if err := m.cat.update(func(s *catalogState) error {
		delete(s.Namespaces[msg.NS].Topics, msg.Topic)
		return nil
	}); err != nil {
		ctx.Respond(&failure{err: err})
		return
	}
	m.dropTopic(ctx, msg.NS, msg.Topic, rec.ID)
	dirs := []string{m.cat.topicDir(rec.ID)}
	m.retire(ctx, []*actor.PID{h.pid}, nil, dirs, ctx.Sender())
}

func (m *manager) dropTopic(ctx actor.Context, ns, name, id string) {
	delete(m.topics, nsKey(ns, name))
	for key, pid := range m.groups {
		if groupNS(key) == ns {
			ctx.Send(pid, &topicDeleted{Name: name, ID: id})
		}
	}
	m.sh.m.forgetTopic(ns, name)
	m.log.Info().Str("namespace", ns).Str("topic", name).Str("topic_id", id).Msg("topic deleted")
}

// retire drains topics (so racing appends are answered), stops the topic
// and group actors, removes their directories and then answers sender. It
// runs outside Receive because it waits for other actors. Groups are only
// stopped: they do not answer a drain, so asking them would cost a whole
// request timeout each.
func (m *manager) retire(ctx actor.Context, topics, groups []*actor.PID, dirs []string, sender *actor.PID) {
	sys, timeout, log := m.sh.system, m.sh.reqTimeout, m.log
	go func() {
		for _, pid := range topics {
			_, _ = sys.Root.RequestFuture(pid, &topicDrain{}, timeout).Result()
		}
		for _, pid := range append(append([]*actor.PID(nil), topics...), groups...) {
			_ = sys.Root.StopFuture(pid).Wait()
		}
		var rmErr error
		for _, dir := range dirs {
			if err := os.RemoveAll(dir); err != nil {
				log.Error().Err(err).Str("dir", dir).Msg("cannot remove deleted data; removed at next start")
				rmErr = err
			}
		}
		if sender == nil {
			return
		}
		if rmErr != nil {
			// The catalog no longer names the topic, so the delete has
			// happened; the files are retried at the next start.
			log.Warn().Err(rmErr).Msg("delete answered before its files were removed")
		}
		sys.Root.Send(sender, &okResp{})
	}()
}

func (m *manager) onDeleteNamespace(ctx actor.Context, msg *deleteNamespaceReq) {
	if msg.Name == config.DefaultNamespace {
		ctx.Respond(&failure{err: fmt.Errorf("%w: %s", config.ErrNamespaceProtected, msg.Name)})
		return
	}
	ns, ok := m.cat.namespace(msg.Name)
	if !ok {
		ctx.Respond(&failure{err: fmt.Errorf("%w: %s", config.ErrNamespaceNotFound, msg.Name)})
		return
	}
	if err := m.cat.update(func(s *catalogState) error {
		delete(s.Namespaces, msg.Name)
		return nil
	}); err != nil {
		ctx.Respond(&failure{err: err})
		return
	}
	var topicPIDs, groupPIDs []*actor.PID
	var dirs []string
	for _, name := range sortedKeys(ns.Groups) {
		if pid := m.groups[nsKey(msg.Name, name)]; pid != nil {
			groupPIDs = append(groupPIDs, pid)
			delete(m.groups, nsKey(msg.Name, name))
		}
		dirs = append(dirs, m.cat.groupDir(ns.Groups[name].ID))
	}
	delete(m.members, msg.Name)
	for _, name := range sortedKeys(ns.Topics) {
		rec := ns.Topics[name]
		if h := m.topics[nsKey(msg.Name, name)]; h != nil {
			topicPIDs = append(topicPIDs, h.pid)
		}
		m.dropTopic(ctx, msg.Name, name, rec.ID)
		dirs = append(dirs, m.cat.topicDir(rec.ID))
	}
	m.log.Info().Str("namespace", msg.Name).Msg("namespace deleted")
	m.retire(ctx, topicPIDs, groupPIDs, dirs, ctx.Sender())
}

func (m *manager) onJoin(ctx actor.Context, msg *joinReq) {
	req := msg.Req
	nsRec, ok := m.cat.namespace(req.Namespace)
	if !ok {
		ctx.Respond(&failure{err: fmt.Errorf("%w: %s", config.ErrNamespaceNotFound, req.Namespace)})
		return
	}
	reg := m.members[req.Namespace]
	if reg == nil {
		reg = map[string]string{}
		m.members[req.Namespace] = reg
	}
	if g, ok := reg[req.Member]; ok && g != req.Group {
		ctx.Respond(&failure{err: fmt.Errorf("%w: %s is registered in group %s", config.ErrMemberConflict, req.Member, g)})
		return
	}
	// Topics may have been deleted since the Engine resolved them; the
	// current incarnations are what the group must use.
	for i, meta := range msg.Metas {
		h := m.topics[nsKey(req.Namespace, meta.Name)]
		if h == nil {
			ctx.Respond(&failure{err: fmt.Errorf("%w: %s/%s", config.ErrTopicNotFound, req.Namespace, meta.Name)})
			return
		}
		msg.Metas[i] = h.meta
	}
	pid := m.groups[nsKey(req.Namespace, req.Group)]
	if pid == nil {
		var rec *groupRecord
		if _, ok := nsRec.Groups[req.Group]; !ok {
			if err := m.cat.update(func(s *catalogState) error {
				s.Namespaces[req.Namespace].Groups[req.Group] = &groupRecord{ID: s.newID("g"), Created: time.Now().UTC()}
				return nil
			}); err != nil {
				ctx.Respond(&failure{err: err})
				return
			}
		}
		rec = m.cat.state.Namespaces[req.Namespace].Groups[req.Group]
		pid = m.spawnGroup(ctx, req.Namespace, req.Group, rec)
	}
	reg[req.Member] = req.Group
	ctx.Forward(pid)
}

func (m *manager) forwardToMember(ctx actor.Context, ns, member string) {
	g, ok := m.members[ns][member]
	if !ok {
		ctx.Respond(&failure{err: fmt.Errorf("%w: %s", config.ErrNotMember, member)})
		return
	}
	pid := m.groups[nsKey(ns, g)]
	if pid == nil {
		ctx.Respond(&failure{err: fmt.Errorf("%w: %s", config.ErrNotMember, member)})
		return
	}
	ctx.Forward(pid)
}

func (m *manager) topicPIDs() []*actor.PID {
	out := make([]*actor.PID, 0, len(m.topics))
	for _, h := range m.topics {
		out = append(out, h.pid)
	}
	return out
}

// gather sends mk() to every pid from a goroutine, waits for all answers
// there, and answers the requester: with finish(answers) sent through the
// manager first when finish is given (so its result is handled in order),
// else with ok or the first failure.
func (m *manager) gather(ctx actor.Context, pids []*actor.PID, mk func() any, finish func([]any) any) {
	sender, self := ctx.Sender(), ctx.Self()
	sys, timeout := m.sh.system, m.sh.reqTimeout
	go func() {
		futs := make([]*actor.Future, len(pids))
		for i, pid := range pids {
			futs[i] = sys.Root.RequestFuture(pid, mk(), timeout)
		}
		res := make([]any, len(pids))
		var first error
		for i, f := range futs {
			r, err := f.Result()
			if err == nil {
				err = replyErr(r)
			}
			if err != nil && first == nil {
				first = mapActorErr(err, "engine-wide request")
			}
			res[i] = r
		}
		if finish != nil {
			_, _ = sys.Root.RequestFuture(self, finish(res), timeout).Result()
		}
		if sender == nil {
			return
		}
		if first != nil {
			sys.Root.Send(sender, &failure{err: first})
			return
		}
		sys.Root.Send(sender, &okResp{})
	}()
}

func (m *manager) saveCounters(items []*topicDrained) {
	if len(items) == 0 {
		return
	}
	err := m.cat.update(func(s *catalogState) error {
		for _, it := range items {
			ns, ok := s.Namespaces[it.NS]
			if !ok {
				continue
			}
			if rec, ok := ns.Topics[it.Topic]; ok && rec.ID == it.ID {
				rec.NotifyCount, rec.NotifiedAt = it.NotifyCount, it.NotifiedAt
			}
		}
		return nil
	})
	if err != nil {
		m.log.Error().Err(err).Msg("saving notification counters failed")
	}
}
