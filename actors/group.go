package actors

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/weirflow/weir/config"
	"github.com/weirflow/weir/wal"
)

// Poll limits when the request leaves them zero (spec/polarstreams.md §4.2).
const (
	defaultPollEvents    = 1000
	defaultPollPartBytes = 1 << 20
	defaultPollBytes     = 2 << 20
	maxGroupTick         = time.Second
)

// group is one consumer group (namespace, name): membership in memory,
// round-robin assignment, delivered positions per owner, and committed
// offsets in its own wal.OffsetStore (durable before any answer that
// depends on them). Polls fan out to the partitions with ReenterAfter and
// gather the answers as messages, so the actor never waits on another; a
// poll with nothing to read parks until a partition reports an append or the
// wait ends.
type group struct {
	sh   *shared
	ns   string
	name string
	id   string
	dir  string
	log  zerolog.Logger

	store     *wal.OffsetStore
	committed map[string]int64 // offsetKey(topic id, partition) → offset
	topics    map[string]topicMeta
	byID      map[string]string // topic id → name
	members   map[string]*member
	owner     map[tp]string
	delivered map[tp]int64
	polls     map[uint64]*pollState
	nextPoll  uint64
	releasing bool
	timeout   time.Duration
	stopTick  chan struct{}
	// restarted is set on an instance built by a supervisor restart: its
	// topics are the ones of the first spawn, and its members (kept only
	// in memory) are gone while the manager's registry still names them,
	// until the manager answers groupRestarted with groupReset.
	restarted bool

	// Auto-commits of polls are saved off the actor (group commit): ver
	// counts changes of committed, durableVer is the newest version known
	// to be on disk, saving is set while a background save is in flight,
	// and commitWait holds the polls whose auto-commit (commitVer) is not
	// durable yet, reading or with their answer held (pollState.held). A save takes every change made up
	// to its start, so the polls of several members share one fsync, and
	// the reads run while it syncs.
	ver        uint64
	durableVer uint64
	saving     bool
	commitWait []*pollState
	// commitAcks are explicit commits waiting for their version to be
	// durable; they share the background saves with the auto-commits.
	commitAcks []commitAck
	// storeGen counts store opens: an open reloads committed from disk,
	// dropping in-memory changes a poll may still wait on (commitGen).
	storeGen uint64
}

type member struct {
	id         string
	topics     []string // sorted, unique
	noTimeout  bool
	lastActive time.Time
	assigned   []tp
	rot        int
	poll       *pollState   // the poll being served (fetching or parked)
	answered   *pollState   // the last poll answered, until the next one starts
	waiting    []*pollState // later polls of the same member, served in order
}

type pollState struct {
	id        uint64
	member    string
	req       config.PollRequest
	sender    *actor.PID
	deadline  time.Time
	gen       int // bumps at every fetch round, so stale replies are ignored
	parked    bool
	done      bool
	tps       []tp
	froms     []int64
	results   []pollFetch
	remaining int
	timer     *time.Timer
	token     uint64
	commitVer uint64 // version of committed the poll's auto-commit needs durable
	commitGen uint64 // storeGen when the poll committed
	// held is set while a ready answer (chunks) waits for commitVer to be
	// durable; the read ran meanwhile, overlapping the fsync.
	held   bool
	chunks []config.Chunk
	// handed is what the answer gave out, so an abandoned answer can be
	// taken back (onAbandon).
	handed []handedRange
}

// commitAck is an explicit commit to answer once version ver of the
// committed offsets is durable (gen: storeGen when it was made).
type commitAck struct {
	ver, gen uint64
	to       *actor.PID
}

// handedRange is the offsets [from, to) of one partition a poll handed out.
type handedRange struct {
	t        tp
	from, to int64
}

type pollFetch struct {
	res *fetchResp
	err error
}

func offsetKey(topicID string, p int) string { return topicID + "/" + strconv.Itoa(p) }

func newGroupProps(sh *shared, ns, name, id, dir string, metas []topicMeta) *actor.Props {
	// The producer runs once at spawn and again at every restart of this
	// one actor.
	var built atomic.Int64
	return actor.PropsFromProducer(func() actor.Actor {
		g := &group{sh: sh, ns: ns, name: name, id: id, dir: dir,
			committed: map[string]int64{}, topics: map[string]topicMeta{}, byID: map[string]string{},
			members: map[string]*member{}, owner: map[tp]string{}, delivered: map[tp]int64{},
			polls: map[uint64]*pollState{}, timeout: sh.cfg.PolarStreams.ConsumerTimeout.Std(),
			log:       sh.log.With().Str("namespace", ns).Str("group", name).Logger(),
			restarted: built.Add(1) > 1}
		for _, m := range metas {
			g.topics[m.Name] = m
			g.byID[m.ID] = m.Name
		}
		return g
	})
}

func (g *group) Receive(ctx actor.Context) {
	defer logPanic(g.log, ctx)
	switch m := ctx.Message().(type) {
	case *actor.Started:
		g.start(ctx)
	case *actor.Stopping:
		g.stop(ctx)
	case *actor.Restarting:
		g.stop(ctx)
	case *joinReq:
		g.onJoin(ctx, m)
	case *pollReq:
		g.onPoll(ctx, m)
	case *commitReq:
		g.onCommit(ctx, m)
	case *leaveReq:
		g.onLeave(ctx, m)
	case *describeGroupReq:
		ctx.Respond(g.describe())
	case *topicCreated:
		g.topics[m.Meta.Name] = m.Meta
		g.byID[m.Meta.ID] = m.Meta.Name
		g.rebalance(ctx)
	case *topicDeleted:
		g.onTopicDeleted(ctx, m)
	case *groupReset:
		g.onReset(ctx, m)
	case *groupTick:
		g.onTick(ctx)
	case *appendNotice:
		g.onAppendNotice(ctx, m)
	case *offsetsSaved:
		g.onOffsetsSaved(ctx, m)
	case *pollAbandon:
		g.onAbandon(ctx, m)
	case *pollDeadline:
		if ps := g.polls[m.ID]; ps != nil && ps.parked {
			g.finishPoll(ctx, ps, nil)
		}
	case *releasePollsReq:
		// The engine is stopping: a poll waiting for data gets the answer
		// every request gets while weir drains (503 over PolarStreams), so
		// its client backs off instead of polling a closed listener at once.
		g.releasing = true
		for _, ps := range g.pollList() {
			if ps.parked {
				g.finishPoll(ctx, ps, errReleased)
			}
		}
		ctx.Respond(&okResp{})
	}
}

// errReleased answers a poll that would wait for data while the engine
// stops.
var errReleased = fmt.Errorf("%w: engine is stopping", config.ErrUnavailable)

func (g *group) start(ctx actor.Context) {
	g.openStore()
	if g.restarted {
		// The topics this instance was built with may be out of date, so
		// pruning waits for the manager's current list (groupReset).
		g.log.Warn().Msg("group restarted; its members must join again")
		ctx.Send(ctx.Parent(), &groupRestarted{NS: g.ns, Group: g.name})
	} else {
		g.pruneStale()
	}
	g.startTicker(ctx)
}

// pruneStale drops commits of topic incarnations that no longer exist, so a
// re-created topic starts clean.
func (g *group) pruneStale() {
	stale := false
	for k := range g.committed {
		id, _, _ := splitOffsetKey(k)
		if _, ok := g.byID[id]; !ok {
			delete(g.committed, k)
			stale = true
		}
	}
	if stale && g.store != nil {
		if err := g.store.Save(g.committed); err != nil {
			g.log.Error().Err(err).Msg("dropping stale offsets failed")
		}
	}
}

// onReset completes a restart: the manager has dropped this group's members
// from its registry and sends the namespace's current topics. Members that
// joined in between (forwarded before the manager's drop, so ahead of this
// message) are dropped too, without memberGone (the registry no longer has
// them, and a later join of the same id must not be undone), so the group
// and the registry agree: no members. Their polls answer ErrNotMember and
// they join again.
func (g *group) onReset(ctx actor.Context, m *groupReset) {
	g.topics = map[string]topicMeta{}
	g.byID = map[string]string{}
	for _, meta := range m.Metas {
		g.topics[meta.Name] = meta
		g.byID[meta.ID] = meta.Name
	}
	g.pruneStale()
	for _, id := range slices.Sorted(maps.Keys(g.members)) {
		g.dropMember(ctx, id, false)
	}
	g.rebalance(ctx)
}

// startTicker sends groupTick to the group every half inactivity timeout
// (within [10ms, 1s]) until stop.
func (g *group) startTicker(ctx actor.Context) {
	interval := g.timeout / 2
	if interval > maxGroupTick {
		interval = maxGroupTick
	}
	if interval < 10*time.Millisecond {
		interval = 10 * time.Millisecond
	}
	stop := make(chan struct{})
	g.stopTick = stop
	self, root := ctx.Self(), g.sh.system.Root
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				root.Send(self, &groupTick{})
			case <-stop:
				return
			}
		}
	}()
}

func splitOffsetKey(k string) (id string, p int, ok bool) {
	for i := len(k) - 1; i >= 0; i-- {
		if k[i] == '/' {
			n, err := strconv.Atoi(k[i+1:])
			return k[:i], n, err == nil
		}
	}
	return k, 0, false
}

func (g *group) openStore() {
	s, err := wal.OpenOffsetStore(g.dir, g.log)
	if err != nil {
		g.log.Error().Err(err).Str("dir", g.dir).Msg("cannot open group offset store")
		return
	}
	g.store = s
	g.storeGen++
	g.committed = s.Load()
	if g.committed == nil {
		g.committed = map[string]int64{}
	}
}

func (g *group) stop(ctx actor.Context) {
	if g.stopTick != nil {
		close(g.stopTick)
		g.stopTick = nil
	}
	stopping := fmt.Errorf("%w: group %s/%s is stopping", config.ErrUnavailable, g.ns, g.name)
	for _, ps := range g.pollList() {
		g.finishPoll(ctx, ps, stopping)
	}
	g.answerCommits(ctx, stopping)
	if g.store != nil {
		if err := g.store.Close(); err != nil {
			g.log.Error().Err(err).Msg("closing offset store failed")
		}
		g.store = nil
	}
}

func (g *group) pollList() []*pollState {
	ids := slices.Sorted(maps.Keys(g.polls))
	out := make([]*pollState, 0, len(ids))
	for _, id := range ids {
		out = append(out, g.polls[id])
	}
	return out
}

// persist applies update to the committed offsets and saves them; on a
// failed save the in-memory offsets go back to what is on disk.
func (g *group) persist(update func() bool) error {
	before := maps.Clone(g.committed)
	if !update() {
		return nil
	}
	if g.store == nil {
		g.openStore()
		if g.store == nil {
			g.committed = before
			return fmt.Errorf("%w: offset store of group %s/%s cannot be opened", config.ErrStorage, g.ns, g.name)
		}
		// openStore reloaded from disk; apply the update again on top.
		before = maps.Clone(g.committed)
		update()
	}
	g.ver++
	if _, err := g.store.SaveVersion(g.ver, g.committed); err != nil {
		g.committed = before
		// A failed save may leave the store's log poisoned; reopen on the
		// next commit, which repairs it.
		_ = g.store.Close()
		g.store = nil
		return fmt.Errorf("%w: save offsets of group %s/%s: %v", config.ErrStorage, g.ns, g.name, err)
	}
	// The whole map is on disk, changes of saves still in flight too.
	g.durableVer = g.ver
	return nil
}

func uniqueSorted(in []string) []string {
	out := slices.Clone(in)
	sort.Strings(out)
	return slices.Compact(out)
}

func (g *group) onJoin(ctx actor.Context, m *joinReq) {
	req := m.Req
	topics := uniqueSorted(req.Topics)
	for _, meta := range m.Metas {
		g.topics[meta.Name] = meta
		g.byID[meta.ID] = meta.Name
	}
	if mem := g.members[req.Member]; mem != nil {
		if slices.Equal(mem.topics, topics) {
			mem.lastActive = time.Now()
			ctx.Respond(&joinResp{Result: config.JoinResult{AlreadyRegistered: true}})
			return
		}
		ctx.Respond(&failure{err: fmt.Errorf("%w: %s is registered in group %s with topics %v",
			config.ErrMemberConflict, req.Member, g.name, mem.topics)})
		return
	}
	// StartFrom applies only where the group has no committed offset, and
	// the computed start is committed at once so it never moves again.
	err := g.persist(func() bool {
		changed := false
		for _, name := range topics {
			meta, ok := g.topics[name]
			if !ok {
				continue
			}
			for p := 0; p < meta.Partitions; p++ {
				k := offsetKey(meta.ID, p)
				if _, ok := g.committed[k]; !ok {
					g.committed[k] = m.Starts[k]
					changed = true
				}
			}
		}
		return changed
	})
	if err != nil {
		ctx.Send(ctx.Parent(), &memberGone{NS: g.ns, Member: req.Member, Group: g.name})
		ctx.Respond(&failure{err: err})
		return
	}
	g.members[req.Member] = &member{id: req.Member, topics: topics, noTimeout: req.NoTimeout, lastActive: time.Now()}
	g.log.Info().Str("member", req.Member).Strs("topics", topics).Msg("member joined")
	g.rebalance(ctx)
	ctx.Respond(&joinResp{})
}

// rebalance recomputes the assignment. A partition whose owner changes loses
// its delivered position, so the next owner starts at the committed offset
// (uncommitted events are delivered again). Parked polls are woken, since
// their member may own new partitions.
func (g *group) rebalance(ctx actor.Context) {
	ms := make(map[string][]string, len(g.members))
	for id, mem := range g.members {
		ms[id] = mem.topics
	}
	parts := make(map[string]int, len(g.topics))
	for name, meta := range g.topics {
		parts[name] = meta.Partitions
	}
	asg := assignRoundRobin(ms, parts)
	owner := map[tp]string{}
	for id, tps := range asg {
		g.members[id].assigned = tps
		for _, t := range tps {
			owner[t] = id
		}
	}
	for t := range g.delivered {
		if owner[t] != g.owner[t] {
			delete(g.delivered, t)
		}
	}
	g.owner = owner
	for _, ps := range g.pollList() {
		if ps.parked {
			g.fetch(ctx, ps)
		}
	}
}

func (g *group) onTopicDeleted(ctx actor.Context, m *topicDeleted) {
	if meta, ok := g.topics[m.Name]; ok && meta.ID == m.ID {
		delete(g.topics, m.Name)
	}
	delete(g.byID, m.ID)
	if err := g.persist(func() bool {
		changed := false
		for k := range g.committed {
			if id, _, _ := splitOffsetKey(k); id == m.ID {
				delete(g.committed, k)
				changed = true
			}
		}
		return changed
	}); err != nil {
		g.log.Error().Err(err).Str("topic", m.Name).Msg("dropping offsets of a deleted topic failed; dropped at next start")
	}
	g.rebalance(ctx)
}

func (g *group) onTick(ctx actor.Context) {
	now := time.Now()
	var gone []string
	for id, mem := range g.members {
		// A member with a poll in progress is active for the whole wait.
		if mem.noTimeout || mem.poll != nil {
			continue
		}
		if now.Sub(mem.lastActive) > g.timeout {
			gone = append(gone, id)
		}
	}
	if len(gone) == 0 {
		return
	}
	sort.Strings(gone)
	for _, id := range gone {
		g.log.Info().Str("member", id).Dur("timeout", g.timeout).Msg("member timed out")
		g.removeMember(ctx, id)
	}
	g.rebalance(ctx)
}

// removeMember forgets a member: its polls answer ErrNotMember, and the
// manager frees the id. The caller rebalances.
func (g *group) removeMember(ctx actor.Context, id string) {
	g.dropMember(ctx, id, true)
}

// dropMember forgets a member and answers its polls with ErrNotMember;
// notify tells the manager to free the id.
func (g *group) dropMember(ctx actor.Context, id string, notify bool) {
	mem := g.members[id]
	if mem == nil {
		return
	}
	err := fmt.Errorf("%w: %s left group %s", config.ErrNotMember, id, g.name)
	delete(g.members, id)
	for _, ps := range mem.waiting {
		g.answer(ctx, ps, nil, err)
	}
	mem.waiting = nil
	if mem.poll != nil {
		g.finishPoll(ctx, mem.poll, err)
	}
	if notify {
		ctx.Send(ctx.Parent(), &memberGone{NS: g.ns, Member: id, Group: g.name})
	}
}

func (g *group) notMember(id string) error {
	return fmt.Errorf("%w: %s is not a member of group %s", config.ErrNotMember, id, g.name)
}

func (g *group) onLeave(ctx actor.Context, m *leaveReq) {
	mem := g.members[m.Member]
	if mem == nil {
		ctx.Respond(&failure{err: g.notMember(m.Member)})
		return
	}
	if m.Commit {
		if err := g.commitDelivered(mem); err != nil {
			ctx.Respond(&failure{err: err})
			return
		}
	}
	g.log.Info().Str("member", m.Member).Bool("commit", m.Commit).Msg("member left")
	// memberGone reaches the manager before the caller sees this answer, so
	// an immediate re-join is not refused as a conflict.
	g.removeMember(ctx, m.Member)
	g.rebalance(ctx)
	ctx.Respond(&okResp{})
}

// commitDelivered is commit = committed ← delivered on every partition the
// member owns now.
func (g *group) commitDelivered(mem *member) error {
	return g.persist(func() bool { return g.applyDelivered(mem) })
}

// applyDelivered sets committed ← delivered in memory on the partitions mem
// owns and reports whether anything changed.
func (g *group) applyDelivered(mem *member) bool {
	changed := false
	for _, t := range mem.assigned {
		pos, ok := g.delivered[t]
		meta, ok2 := g.topics[t.Topic]
		if !ok || !ok2 {
			continue
		}
		k := offsetKey(meta.ID, t.Partition)
		if c, ok := g.committed[k]; !ok || c != pos {
			g.committed[k] = pos
			changed = true
		}
	}
	return changed
}

func (g *group) onCommit(ctx actor.Context, m *commitReq) {
	mem := g.members[m.Member]
	if mem == nil {
		ctx.Respond(&failure{err: g.notMember(m.Member)})
		return
	}
	mem.lastActive = time.Now()
	update := func() bool { return g.applyDelivered(mem) }
	if len(m.Offsets) > 0 {
		// Explicit offsets count only for partitions the member owns now:
		// a partition that moved belongs to its new owner's progress.
		update = func() bool {
			changed := false
			for _, o := range m.Offsets {
				meta, ok := g.topics[o.Topic]
				if !ok || g.owner[tp{o.Topic, o.Partition}] != mem.id || o.Offset < 0 {
					continue
				}
				k := offsetKey(meta.ID, o.Partition)
				if c, ok := g.committed[k]; !ok || c != o.Offset {
					g.committed[k] = o.Offset
					changed = true
				}
			}
			return changed
		}
	}
	if g.store == nil {
		// The store must be reopened first (persist does it, and saves).
		if err := g.persist(update); err != nil {
			ctx.Respond(&failure{err: err})
			return
		}
		ctx.Respond(&okResp{})
		return
	}
	// Like a poll's auto-commit, the commit is saved off the actor and
	// answered once durable, so the group goes on serving its members
	// during the fsync and commits arriving meanwhile share the next one.
	// Changes still in flight count too: the answer must not overtake a
	// commit it depends on.
	if update() {
		g.ver++
	}
	if g.durableVer >= g.ver {
		ctx.Respond(&okResp{})
		return
	}
	if to := ctx.Sender(); to != nil {
		g.commitAcks = append(g.commitAcks, commitAck{ver: g.ver, gen: g.storeGen, to: to})
	}
	g.startSave(ctx)
}

// answerCommits answers the explicit commits now durable, or fails them
// all with err (a failed save: the offsets were reloaded from disk, or
// will be at the next open, without them).
func (g *group) answerCommits(ctx actor.Context, err error) {
	acks := g.commitAcks
	g.commitAcks = nil
	for _, a := range acks {
		switch {
		case err != nil:
			ctx.Send(a.to, &failure{err: err})
		case a.gen != g.storeGen || g.store == nil:
			ctx.Send(a.to, &failure{err: fmt.Errorf("%w: offsets of group %s/%s were reloaded before this commit was saved", config.ErrStorage, g.ns, g.name)})
		case a.ver <= g.durableVer:
			ctx.Send(a.to, &okResp{})
		default:
			g.commitAcks = append(g.commitAcks, a)
		}
	}
}

func (g *group) onPoll(ctx actor.Context, m *pollReq) {
	mem := g.members[m.Req.Member]
	if mem == nil {
		ctx.Respond(&failure{err: g.notMember(m.Req.Member)})
		return
	}
	mem.lastActive = time.Now()
	g.nextPoll++
	ps := &pollState{id: g.nextPoll, member: mem.id, req: m.Req, sender: ctx.Sender(),
		deadline: time.Now().Add(m.Req.Wait), token: m.Token}
	g.polls[ps.id] = ps
	if mem.poll != nil {
		// One poll per member at a time: positions advance in order.
		mem.waiting = append(mem.waiting, ps)
		return
	}
	g.startPoll(ctx, mem, ps)
}

func (g *group) startPoll(ctx actor.Context, mem *member, ps *pollState) {
	mem.poll = ps
	mem.answered = nil
	if ps.req.AutoCommit {
		if g.store == nil {
			// The store must be reopened first (persist does it).
			if err := g.commitDelivered(mem); err != nil {
				g.finishPoll(ctx, ps, err)
				return
			}
		} else {
			if g.applyDelivered(mem) {
				g.ver++
			}
			// Changes of other polls still in flight count too: this
			// answer must not overtake a commit it depends on.
			if g.durableVer < g.ver {
				ps.commitVer, ps.commitGen = g.ver, g.storeGen
				g.commitWait = append(g.commitWait, ps)
				g.startSave(ctx)
			}
		}
	}
	g.fetch(ctx, ps)
}

// startSave saves the committed offsets in a goroutine unless a save is in
// flight (its completion starts the next one, which then carries every
// change made meanwhile) or everything is durable. The actor goes on
// serving; the saved version comes back as offsetsSaved.
func (g *group) startSave(ctx actor.Context) {
	if g.saving || g.store == nil || g.durableVer >= g.ver {
		return
	}
	g.saving = true
	store, ver, snap := g.store, g.ver, maps.Clone(g.committed)
	self, root := ctx.Self(), g.sh.system.Root
	go func() {
		var err error
		if h := offsetSaveHook; h != nil {
			err = h()
		}
		if err == nil {
			_, err = store.SaveVersion(ver, snap)
		}
		root.Send(self, &offsetsSaved{owner: g, store: store, ver: ver, err: err})
	}()
}

// offsetSaveHook runs before every background save (tests only: hold,
// count or fail saves; an error stands for the save's).
var offsetSaveHook func() error

// onOffsetsSaved answers the held polls whose auto-commit is now durable.
// A failed save fails every held poll and takes back what it handed out;
// when the failed store is still the current one (or none is open), it is
// closed (the next commit reopens and repairs it), the in-memory offsets go
// back to what is on disk, and every delivered position restarts from the
// committed offset (events may be delivered again, none is skipped). A poll
// whose commit was made before the store was reopened fails too: the reopen
// reloaded the offsets from disk without it.
func (g *group) onOffsetsSaved(ctx actor.Context, m *offsetsSaved) {
	if m.owner != g {
		return // a save of the instance before a supervisor restart
	}
	g.saving = false
	waiting := g.commitWait
	g.commitWait = nil
	var err error
	if m.err != nil {
		err = fmt.Errorf("%w: save offsets of group %s/%s: %v", config.ErrStorage, g.ns, g.name, m.err)
		if m.store == g.store || g.store == nil {
			if g.store != nil {
				_ = g.store.Close()
				g.store = nil
			}
			g.committed = m.store.Load()
			g.durableVer = g.ver
			g.delivered = map[tp]int64{}
		}
	} else if m.ver > g.durableVer {
		g.durableVer = m.ver
	}
	lost := fmt.Errorf("%w: offsets of group %s/%s were reloaded before this commit was saved", config.ErrStorage, g.ns, g.name)
	for _, ps := range waiting {
		fail := err
		if fail == nil && ps.commitGen != g.storeGen {
			fail = lost
		}
		switch {
		case ps.done:
		case fail != nil:
			// Its answer never leaves: what it handed out goes back.
			if mem := g.members[ps.member]; mem != nil {
				g.takeBack(mem, ps)
			}
			g.finishPoll(ctx, ps, fail)
		case ps.commitVer <= g.durableVer:
			if ps.held {
				g.finishPollWith(ctx, ps, ps.chunks, nil)
			}
			// else its read is still running and answers at once.
		default:
			g.commitWait = append(g.commitWait, ps)
		}
	}
	g.answerCommits(ctx, err)
	if g.store == nil && len(g.commitWait) > 0 {
		// A failed synchronous save closed the store: nothing saves the
		// rest, and reopening reloads the offsets without their commits.
		waiting, g.commitWait = g.commitWait, nil
		for _, ps := range waiting {
			if mem := g.members[ps.member]; mem != nil {
				g.takeBack(mem, ps)
			}
			g.finishPoll(ctx, ps, lost)
		}
		return
	}
	g.startSave(ctx)
}

// position is where the owner of t reads next: its delivered position, else
// the committed offset (a committed offset below the first retained one
// reads from the first retained, as wal.Fetch does).
func (g *group) position(t tp) int64 {
	if pos, ok := g.delivered[t]; ok {
		return pos
	}
	if meta, ok := g.topics[t.Topic]; ok {
		if c, ok := g.committed[offsetKey(meta.ID, t.Partition)]; ok {
			return c
		}
	}
	return 0
}

// fetch starts one read round: one partitionFetch per owned partition, all
// in flight at once; answers come back through ReenterAfter.
func (g *group) fetch(ctx actor.Context, ps *pollState) {
	mem := g.members[ps.member]
	if mem == nil {
		return
	}
	ps.parked = false
	ps.gen++
	n := len(mem.assigned)
	if n == 0 {
		g.finishPoll(ctx, ps, nil)
		return
	}
	first := mem.rot % n
	mem.rot++
	ps.tps = make([]tp, 0, n)
	for i := 0; i < n; i++ {
		ps.tps = append(ps.tps, mem.assigned[(first+i)%n])
	}
	ps.froms = make([]int64, n)
	ps.results = make([]pollFetch, n)
	ps.remaining = n
	maxEv := ps.req.MaxEventsPerPartition
	if maxEv <= 0 {
		maxEv = defaultPollEvents
	}
	maxB := ps.req.MaxBytesPerPartition
	if maxB <= 0 {
		maxB = defaultPollPartBytes
	}
	gen := ps.gen
	for i, t := range ps.tps {
		ps.froms[i] = g.position(t)
		meta := g.topics[t.Topic]
		f := ctx.RequestFuture(meta.PID, &toPartition{Partition: t.Partition,
			Msg: &partitionFetch{From: ps.froms[i], MaxEvents: maxEv, MaxBytes: maxB}}, g.sh.reqTimeout)
		ctx.ReenterAfter(f, func(res any, err error) {
			g.onFetched(ctx, ps, gen, i, res, err)
		})
	}
}

func (g *group) onFetched(ctx actor.Context, ps *pollState, gen, i int, res any, err error) {
	if ps.done || ps.gen != gen {
		return
	}
	if err == nil {
		err = replyErr(res)
	}
	if err != nil {
		ps.results[i] = pollFetch{err: mapActorErr(err, "fetch")}
	} else {
		ps.results[i] = pollFetch{res: res.(*fetchResp)}
	}
	ps.remaining--
	if ps.remaining == 0 {
		g.completeFetch(ctx, ps)
	}
}

func (g *group) completeFetch(ctx actor.Context, ps *pollState) {
	mem := g.members[ps.member]
	if mem == nil || mem.poll != ps {
		return
	}
	maxBytes := ps.req.MaxBytes
	if maxBytes <= 0 {
		maxBytes = defaultPollBytes
	}
	var chunks []config.Chunk
	var readErr error
	total := 0
	for i, t := range ps.tps {
		r := ps.results[i]
		if r.err != nil {
			if errors.Is(r.err, config.ErrStorage) {
				readErr = r.err
			}
			continue
		}
		g.setLag(t, r.res.Result.NextOffset)
		evs := r.res.Result.Events
		if len(evs) == 0 || total >= maxBytes {
			continue
		}
		// The assignment or position may have moved while the read was in
		// flight; such a chunk is not handed out.
		if g.owner[t] != mem.id || g.position(t) != ps.froms[i] {
			continue
		}
		chunks = append(chunks, config.Chunk{Topic: t.Topic, Partition: t.Partition, StartOffset: evs[0].Offset, Events: evs})
		g.delivered[t] = evs[len(evs)-1].Offset + 1
		ps.handed = append(ps.handed, handedRange{t: t, from: ps.froms[i], to: g.delivered[t]})
		for _, e := range evs {
			total += len(e.Body)
		}
	}
	if len(chunks) == 0 {
		if readErr != nil {
			g.finishPoll(ctx, ps, readErr)
			return
		}
		if ps.req.Wait > 0 && time.Now().Before(ps.deadline) {
			if g.releasing {
				g.finishPoll(ctx, ps, errReleased)
				return
			}
			g.park(ctx, ps, mem)
			return
		}
	}
	g.finishPollWith(ctx, ps, chunks, nil)
}

// park holds a poll that found nothing: every owned partition is asked to
// send an appendNotice when it grows past the member's position, and a timer
// ends the wait.
func (g *group) park(ctx actor.Context, ps *pollState, mem *member) {
	ps.parked = true
	for _, t := range mem.assigned {
		meta := g.topics[t.Topic]
		ctx.Request(meta.PID, &toPartition{Partition: t.Partition, Msg: &partitionWatch{From: g.position(t)}})
	}
	if ps.timer == nil {
		self, root, id := ctx.Self(), g.sh.system.Root, ps.id
		ps.timer = time.AfterFunc(time.Until(ps.deadline), func() {
			root.Send(self, &pollDeadline{ID: id})
		})
	}
}

func (g *group) onAppendNotice(ctx actor.Context, m *appendNotice) {
	name, ok := g.byID[m.TopicID]
	if !ok {
		return
	}
	mem := g.members[g.owner[tp{name, m.Partition}]]
	if mem != nil && mem.poll != nil && mem.poll.parked {
		g.fetch(ctx, mem.poll)
	}
}

func (g *group) finishPoll(ctx actor.Context, ps *pollState, err error) {
	g.finishPollWith(ctx, ps, nil, err)
}

func (g *group) finishPollWith(ctx actor.Context, ps *pollState, chunks []config.Chunk, err error) {
	if ps.done {
		return
	}
	if err == nil && ps.commitVer > g.durableVer {
		// The auto-commit this poll made is not durable yet: hold the
		// answer until onOffsetsSaved.
		// (ps is in commitWait since startPoll.)
		ps.held, ps.chunks, ps.parked = true, chunks, false
		return
	}
	ps.held, ps.chunks = false, nil
	g.answer(ctx, ps, chunks, err)
	mem := g.members[ps.member]
	if mem == nil || mem.poll != ps {
		return
	}
	mem.poll = nil
	mem.lastActive = time.Now()
	if len(mem.waiting) > 0 {
		next := mem.waiting[0]
		mem.waiting = mem.waiting[1:]
		g.startPoll(ctx, mem, next)
	}
}

func (g *group) answer(ctx actor.Context, ps *pollState, chunks []config.Chunk, err error) {
	ps.done = true
	ps.parked = false
	if ps.timer != nil {
		ps.timer.Stop()
	}
	delete(g.polls, ps.id)
	if ps.sender == nil {
		return
	}
	if err != nil {
		ctx.Send(ps.sender, &failure{err: err})
		return
	}
	assigned := 0
	if mem := g.members[ps.member]; mem != nil {
		assigned = len(mem.assigned)
		mem.answered = ps
	}
	ctx.Send(ps.sender, &pollResp{Result: config.PollResult{Assigned: assigned, Chunks: chunks}})
}

func (g *group) setLag(t tp, end int64) {
	meta, ok := g.topics[t.Topic]
	if !ok {
		return
	}
	c, ok := g.committed[offsetKey(meta.ID, t.Partition)]
	if !ok {
		return
	}
	lag := end - c
	if lag < 0 {
		lag = 0
	}
	g.sh.m.groupLag.WithLabelValues(g.ns, g.name, t.Topic, strconv.Itoa(t.Partition)).Set(float64(lag))
}

// describe reports members, assignment and committed offsets; the Engine
// adds end offsets and lag.
func (g *group) describe() *groupInfoResp {
	info := config.GroupInfo{Namespace: g.ns, Name: g.name, Members: []config.GroupMember{}, Partitions: []config.GroupPartition{}}
	names := map[string]bool{}
	for _, id := range sortedKeys(g.members) {
		mem := g.members[id]
		gm := config.GroupMember{ID: id, Topics: slices.Clone(mem.topics), Assignment: []config.TopicPartition{}}
		for _, t := range mem.assigned {
			gm.Assignment = append(gm.Assignment, config.TopicPartition{Topic: t.Topic, Partition: t.Partition})
		}
		info.Members = append(info.Members, gm)
		for _, t := range mem.topics {
			names[t] = true
		}
	}
	for k := range g.committed {
		if id, _, ok := splitOffsetKey(k); ok {
			if name, ok := g.byID[id]; ok {
				names[name] = true
			}
		}
	}
	resp := &groupInfoResp{}
	for _, name := range sortedKeys(names) {
		meta, ok := g.topics[name]
		if !ok {
			continue
		}
		resp.Meta = append(resp.Meta, meta)
		for p := 0; p < meta.Partitions; p++ {
			c, ok := g.committed[offsetKey(meta.ID, p)]
			if !ok {
				c = -1
			}
			info.Partitions = append(info.Partitions, config.GroupPartition{
				Topic: name, Partition: p, Owner: g.owner[tp{name, p}], Committed: c})
		}
	}
	resp.Info = info
	return resp
}

// onAbandon handles a poll whose caller stopped waiting. A poll still being
// served or queued ends without moving any position; one already answered
// (the answer crossed the caller's give-up) has its hand-out taken back, as
// long as nothing has moved those partitions since. Either way the events
// stay with the member's next poll instead of being auto-committed unseen.
func (g *group) onAbandon(ctx actor.Context, m *pollAbandon) {
	mem := g.members[m.Member]
	if mem == nil {
		return
	}
	for i, ps := range mem.waiting {
		if ps.token == m.Token {
			mem.waiting = append(mem.waiting[:i], mem.waiting[i+1:]...)
			g.drop(ps)
			return
		}
	}
	if ps := mem.poll; ps != nil && ps.token == m.Token {
		g.takeBack(mem, ps) // a held answer has moved positions already
		g.drop(ps)
		mem.poll = nil
		if len(mem.waiting) > 0 {
			next := mem.waiting[0]
			mem.waiting = mem.waiting[1:]
			g.startPoll(ctx, mem, next)
		}
		return
	}
	if ps := mem.answered; ps != nil && ps.token == m.Token {
		g.takeBack(mem, ps)
		mem.answered = nil
	}
}

// takeBack undoes what ps handed out, as long as nothing has moved those
// partitions since.
func (g *group) takeBack(mem *member, ps *pollState) {
	for _, h := range ps.handed {
		if g.owner[h.t] == mem.id && g.delivered[h.t] == h.to {
			g.delivered[h.t] = h.from
		}
	}
}

// drop forgets a poll without answering it; replies of its in-flight reads
// are ignored (ps.done).
func (g *group) drop(ps *pollState) {
	ps.done = true
	ps.parked = false
	if ps.timer != nil {
		ps.timer.Stop()
	}
	delete(g.polls, ps.id)
}
