package actors

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirflow/weir/config"
)

func TestAssignRoundRobin(t *testing.T) {
	cases := []struct {
		name    string
		members map[string][]string
		parts   map[string]int
		want    map[string][]tp
	}{
		{"spec example", map[string][]string{"c2": {"t"}, "c1": {"t"}}, map[string]int{"t": 4},
			map[string][]tp{"c1": {{"t", 0}, {"t", 2}}, "c2": {{"t", 1}, {"t", 3}}}},
		{"union, topics bytewise", map[string][]string{"a": {"b"}, "b": {"B"}}, map[string]int{"b": 1, "B": 2},
			map[string][]tp{"a": {{"B", 0}, {"b", 0}}, "b": {{"B", 1}}}},
		{"more members than pairs", map[string][]string{"x": {"t"}, "y": {"t"}, "z": {"t"}}, map[string]int{"t": 2},
			map[string][]tp{"x": {{"t", 0}}, "y": {{"t", 1}}, "z": nil}},
		{"missing topic skipped", map[string][]string{"x": {"gone", "t"}}, map[string]int{"t": 1},
			map[string][]tp{"x": {{"t", 0}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := assignRoundRobin(c.members, c.parts)
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

func assignment(t *testing.T, e *Engine, group string) map[string][]config.TopicPartition {
	t.Helper()
	gi, err := e.DescribeGroup(tctx(t), "default", group)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]config.TopicPartition{}
	for _, m := range gi.Members {
		out[m.ID] = m.Assignment
	}
	return out
}

func join(t *testing.T, e *Engine, group, member string, from config.StartFrom, topics ...string) {
	t.Helper()
	if _, err := e.JoinGroup(tctx(t), config.JoinRequest{Namespace: "default", Group: group, Member: member,
		Topics: topics, StartFrom: from, CreateTopics: true}); err != nil {
		t.Fatalf("join %s: %v", member, err)
	}
}

func poll(t *testing.T, e *Engine, member string, auto bool) config.PollResult {
	t.Helper()
	r, err := e.Poll(tctx(t), config.PollRequest{Namespace: "default", Member: member, AutoCommit: auto})
	if err != nil {
		t.Fatalf("poll %s: %v", member, err)
	}
	return r
}

// bodies flattens a poll's chunks to "p:offset:body", sorted.
func bodies(r config.PollResult) []string {
	var out []string
	for _, c := range r.Chunks {
		for i, ev := range c.Events {
			if ev.Offset != c.StartOffset+int64(i) {
				panic("chunk offsets not consecutive")
			}
			out = append(out, fmt.Sprintf("%d:%d:%s", c.Partition, ev.Offset, ev.Body))
		}
	}
	sort.Strings(out)
	return out
}

func produceEach(t *testing.T, e *Engine, topic string, n int, prefix string) {
	for i := 0; i < n; i++ {
		mustProduce(t, e, config.ProduceRequest{Namespace: "default", Topic: topic, CreateTopic: true,
			Messages: []config.Message{{Body: []byte(fmt.Sprintf("%s%d", prefix, i))}}})
	}
}

func TestGroupSplitLeaveRedeliver(t *testing.T) {
	e := startEngine(t, testConfig(t.TempDir()))
	join(t, e, "g", "c1", config.StartEarliest, "t")
	join(t, e, "g", "c2", config.StartEarliest, "t")
	a := assignment(t, e, "g")
	want := map[string][]config.TopicPartition{
		"c1": {{Topic: "t", Partition: 0}, {Topic: "t", Partition: 2}},
		"c2": {{Topic: "t", Partition: 1}, {Topic: "t", Partition: 3}},
	}
	if !reflect.DeepEqual(a, want) {
		t.Fatalf("assignment %v, want %v", a, want)
	}
	produceEach(t, e, "t", 8, "e") // two events per partition
	r1 := poll(t, e, "c1", true)
	if got := bodies(r1); !reflect.DeepEqual(got, []string{"0:0:e0", "0:1:e4", "2:0:e2", "2:1:e6"}) || r1.Assigned != 2 {
		t.Fatalf("c1 poll = %v (assigned %d)", got, r1.Assigned)
	}
	r2 := poll(t, e, "c2", true)
	if got := bodies(r2); !reflect.DeepEqual(got, []string{"1:0:e1", "1:1:e5", "3:0:e3", "3:1:e7"}) {
		t.Fatalf("c2 poll = %v", got)
	}
	// c2 commits explicitly what it got; c1 never commits.
	if err := e.Commit(tctx(t), "default", "c2", nil); err != nil {
		t.Fatal(err)
	}
	// Same registration again: AlreadyRegistered; different topics: conflict.
	if r, err := e.JoinGroup(tctx(t), config.JoinRequest{Namespace: "default", Group: "g", Member: "c1", Topics: []string{"t", "t"}}); err != nil || !r.AlreadyRegistered {
		t.Fatalf("re-join = %+v, %v", r, err)
	}
	if _, err := e.JoinGroup(tctx(t), config.JoinRequest{Namespace: "default", Group: "g", Member: "c1", Topics: []string{"t", "u"}, CreateTopics: true}); !errors.Is(err, config.ErrMemberConflict) {
		t.Fatalf("conflicting join: %v", err)
	}
	if _, err := e.JoinGroup(tctx(t), config.JoinRequest{Namespace: "default", Group: "other", Member: "c1", Topics: []string{"t"}}); !errors.Is(err, config.ErrMemberConflict) {
		t.Fatalf("join of another group with a used id: %v", err)
	}
	// c1 leaves without committing: its partitions move to c2 at once and
	// its uncommitted events are delivered again.
	if err := e.LeaveGroup(tctx(t), "default", "c1", false); err != nil {
		t.Fatal(err)
	}
	if a := assignment(t, e, "g"); len(a) != 1 || len(a["c2"]) != 4 {
		t.Fatalf("after leave: %v", a)
	}
	r3 := poll(t, e, "c2", true)
	if got := bodies(r3); !reflect.DeepEqual(got, []string{"0:0:e0", "0:1:e4", "2:0:e2", "2:1:e6"}) {
		t.Fatalf("redelivery to c2 = %v", got)
	}
	if _, err := e.Poll(tctx(t), config.PollRequest{Namespace: "default", Member: "c1"}); !errors.Is(err, config.ErrNotMember) {
		t.Fatalf("poll after leave: %v", err)
	}
	// The id is free again, in any group.
	join(t, e, "other", "c1", config.StartLatest, "t")
}

func TestGroupIdleTimeout(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.PolarStreams.ConsumerTimeout = config.Duration(300 * time.Millisecond)
	e := startEngine(t, cfg)
	join(t, e, "g", "idle", config.StartEarliest, "t")
	if _, err := e.JoinGroup(tctx(t), config.JoinRequest{Namespace: "default", Group: "g", Member: "pipeline",
		Topics: []string{"t"}, NoTimeout: true}); err != nil {
		t.Fatal(err)
	}
	// "busy" stays active with a long poll that waits the whole time.
	join(t, e, "g", "busy", config.StartEarliest, "t")
	done := make(chan error, 1)
	go func() {
		_, err := e.Poll(tctx(t), config.PollRequest{Namespace: "default", Member: "busy", Wait: 1200 * time.Millisecond})
		done <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		a := assignment(t, e, "g")
		if _, ok := a["idle"]; !ok {
			if _, ok := a["busy"]; !ok {
				t.Fatalf("waiting member timed out too: %v", a)
			}
			if len(a["pipeline"]) != 2 || len(a["busy"]) != 2 {
				t.Fatalf("after timeout: %v", a)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("idle member never removed")
		}
		time.Sleep(50 * time.Millisecond) // polling for an asynchronous timeout
	}
	if err := <-done; err != nil {
		t.Fatalf("waiting poll: %v", err)
	}
	if _, err := e.Poll(tctx(t), config.PollRequest{Namespace: "default", Member: "idle"}); !errors.Is(err, config.ErrNotMember) {
		t.Fatalf("poll of timed-out member: %v", err)
	}
}

func TestGroupWaitWakesOnAppend(t *testing.T) {
	e := startEngine(t, testConfig(t.TempDir()))
	join(t, e, "g", "c", config.StartLatest, "t")
	type res struct {
		r   config.PollResult
		err error
		d   time.Duration
	}
	ch := make(chan res, 1)
	start := time.Now()
	go func() {
		r, err := e.Poll(tctx(t), config.PollRequest{Namespace: "default", Member: "c", Wait: 10 * time.Second})
		ch <- res{r, err, time.Since(start)}
	}()
	mustProduce(t, e, config.ProduceRequest{Namespace: "default", Topic: "t", Messages: msgs("x", 1)})
	r := <-ch
	if r.err != nil || len(bodies(r.r)) != 1 || r.d > 5*time.Second {
		t.Fatalf("waiting poll = %v, %v after %v", bodies(r.r), r.err, r.d)
	}
	// An empty wait ends at its deadline with no chunks.
	q, err := e.Poll(tctx(t), config.PollRequest{Namespace: "default", Member: "c", Wait: 100 * time.Millisecond, AutoCommit: true})
	if err != nil || len(q.Chunks) != 0 || q.Assigned != 4 {
		t.Fatalf("empty wait = %+v, %v", q, err)
	}
}

func TestGroupOffsetsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	e := startEngine(t, testConfig(dir))
	produceEach(t, e, "t", 4, "old") // before the group: not delivered with StartLatest
	join(t, e, "latest", "l1", config.StartLatest, "t")
	join(t, e, "early", "e1", config.StartEarliest, "t")
	produceEach(t, e, "t", 4, "new")
	if got := bodies(poll(t, e, "l1", true)); len(got) != 4 || got[0][len(got[0])-4:] != "new0" {
		t.Fatalf("latest group got %v", got)
	}
	poll(t, e, "l1", true) // auto-commits the first poll
	if got := bodies(poll(t, e, "e1", true)); len(got) != 8 {
		t.Fatalf("earliest group got %v", got)
	}
	// e1's poll is not committed: a restart redelivers it.
	stopEngine(t, e)

	e2 := startEngine(t, testConfig(dir))
	produceEach(t, e2, "t", 4, "later")
	join(t, e2, "latest", "l1", config.StartLatest, "t")
	if got := bodies(poll(t, e2, "l1", true)); len(got) != 4 || got[0][len(got[0])-6:] != "later0" {
		t.Fatalf("latest group after restart got %v", got)
	}
	join(t, e2, "early", "e1", config.StartEarliest, "t")
	if got := bodies(poll(t, e2, "e1", true)); len(got) != 12 {
		t.Fatalf("earliest group after restart got %d events: %v", len(got), got)
	}
	gi, err := e2.DescribeGroup(tctx(t), "default", "latest")
	if err != nil || len(gi.Partitions) != 4 {
		t.Fatalf("describe = %+v, %v", gi, err)
	}
	for _, p := range gi.Partitions {
		if p.Committed != 2 || p.End != 3 || p.Lag != 1 || p.Owner != "l1" {
			t.Fatalf("partition %+v: want committed 2 (before the uncommitted poll), end 3", p)
		}
	}
}

// A group that never commits is pinned where it first registered: a
// restart does not move StartLatest to the new end.
func TestGroupStartLatestPinned(t *testing.T) {
	dir := t.TempDir()
	e := startEngine(t, testConfig(dir))
	join(t, e, "g", "c", config.StartLatest, "t")
	stopEngine(t, e)
	e2 := startEngine(t, testConfig(dir))
	produceEach(t, e2, "t", 4, "x")
	join(t, e2, "g", "c", config.StartLatest, "t")
	if got := bodies(poll(t, e2, "c", false)); len(got) != 4 {
		t.Fatalf("events produced between restart and re-join are lost: %v", got)
	}
}

// An answer that crossed its caller's give-up is taken back: the events go
// to the member's next poll instead of being auto-committed unseen, and a
// poll abandoned while parked moves nothing.
func TestPollAbandonTakesBackTheAnswer(t *testing.T) {
	e := startEngine(t, testConfig(t.TempDir()))
	defer stopEngine(t, e)
	ctx := tctx(t)
	mustProduce(t, e, config.ProduceRequest{Namespace: "default", Topic: "t", Key: []byte("123"),
		Messages: msgs("m", 3), CreateTopic: true})
	if _, err := e.JoinGroup(ctx, config.JoinRequest{Namespace: "default", Group: "g", Member: "c1",
		Topics: []string{"t"}, StartFrom: config.StartEarliest}); err != nil {
		t.Fatal(err)
	}
	poll := func() []config.Chunk {
		t.Helper()
		r, err := e.Poll(ctx, config.PollRequest{Namespace: "default", Member: "c1", AutoCommit: true})
		if err != nil {
			t.Fatal(err)
		}
		return r.Chunks
	}
	first := poll()
	if len(first) != 1 || len(first[0].Events) != 3 {
		t.Fatalf("first poll: %+v", first)
	}
	// The facade sends this when the caller's context ends before the
	// answer reaches it; here the answer did reach us, which is the race
	// being covered.
	e.system.Root.Send(e.manager, &pollAbandon{NS: "default", Member: "c1", Token: e.pollSeq.Load()})
	again := poll()
	if len(again) != 1 || again[0].StartOffset != 0 || len(again[0].Events) != 3 {
		t.Fatalf("after abandon, want offsets 0..2 again, got %+v", again)
	}
	// Abandoning an older poll after a newer one started changes nothing.
	e.system.Root.Send(e.manager, &pollAbandon{NS: "default", Member: "c1", Token: e.pollSeq.Load() - 1})
	if rest := poll(); len(rest) != 0 {
		t.Fatalf("stale abandon rewound: %+v", rest)
	}

	// A parked poll whose caller gives up takes nothing that arrives later.
	wctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := e.Poll(wctx, config.PollRequest{Namespace: "default", Member: "c1", AutoCommit: true, Wait: 10 * time.Second}); err == nil {
		t.Fatal("a poll past its context answered")
	}
	mustProduce(t, e, config.ProduceRequest{Namespace: "default", Topic: "t", Key: []byte("123"), Messages: msgs("n", 1)})
	got := poll()
	if len(got) != 1 || got[0].StartOffset != 3 {
		t.Fatalf("after an abandoned parked poll, want offset 3, got %+v", got)
	}
}

// The auto-commits of several members' polls are saved together off the
// group actor, and no answer leaves before the commit its poll made is
// durable: with the background save held, the four polls' commits are in
// memory (describe) but none of them answers; released, they answer after
// at most two saves, and a restart finds every commit.
func TestGroupCommitSharedAndDurableBeforeAnswer(t *testing.T) {
	dir := t.TempDir()
	e := startEngine(t, testConfig(dir))
	members := []string{"m0", "m1", "m2", "m3"}
	for _, m := range members {
		join(t, e, "g", m, config.StartEarliest, "t")
	}
	produceEach(t, e, "t", 8, "a") // two per partition
	for _, m := range members {
		if got := bodies(poll(t, e, m, true)); len(got) != 2 {
			t.Fatalf("%s first poll got %v", m, got)
		}
	}
	produceEach(t, e, "t", 4, "b") // one more per partition

	gate, saves := holdSaves(t)
	type answer struct {
		member string
		res    config.PollResult
		err    error
	}
	answers := make(chan answer, len(members))
	for _, m := range members {
		go func() {
			r, err := e.Poll(tctx(t), config.PollRequest{Namespace: "default", Member: m, AutoCommit: true})
			answers <- answer{m, r, err}
		}()
	}
	// Every poll has committed its first answer in memory.
	waitCommitted(t, e, "g", 4, 2)
	select {
	case a := <-answers:
		t.Fatalf("%s answered (%v) before its commit was durable", a.member, a.err)
	case <-time.After(100 * time.Millisecond):
	}
	close(gate)
	for range members {
		a := <-answers
		if a.err != nil {
			t.Fatalf("%s: %v", a.member, a.err)
		}
		if got := bodies(a.res); len(got) != 1 {
			t.Fatalf("%s second poll got %v", a.member, got)
		}
	}
	if n := saves.Load(); n < 1 || n > 2 {
		t.Fatalf("%d background saves for 4 polls, want 1 or 2 (shared)", n)
	}
	stopEngine(t, e)
	committedAfterRestart(t, dir, "g", 4, 2, "")
}

// A failed background save fails the polls it held with a storage error and
// loses nothing: the offsets stay what is on disk and the next poll gets the
// same events again.
func TestGroupCommitFailedSaveRedelivers(t *testing.T) {
	e := startEngine(t, testConfig(t.TempDir()))
	join(t, e, "g", "m", config.StartEarliest, "t")
	produceEach(t, e, "t", 4, "a") // one per partition
	first := bodies(poll(t, e, "m", true))
	if len(first) != 4 {
		t.Fatalf("first poll got %v", first)
	}
	var calls atomic.Int32
	offsetSaveHook = func() error { calls.Add(1); return errors.New("disk full") }
	t.Cleanup(func() { offsetSaveHook = nil })
	_, err := e.Poll(tctx(t), config.PollRequest{Namespace: "default", Member: "m", AutoCommit: true})
	if !errors.Is(err, config.ErrStorage) {
		t.Fatalf("poll with a failing save: %v (%d saves), want ErrStorage", err, calls.Load())
	}
	offsetSaveHook = nil
	gi, err := e.DescribeGroup(tctx(t), "default", "g")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range gi.Partitions {
		if p.Committed != 0 {
			t.Fatalf("%+v: want committed 0 (the save failed)", p)
		}
	}
	// Nothing was committed: the events come again, then the commit sticks.
	if got := bodies(poll(t, e, "m", true)); !reflect.DeepEqual(got, first) {
		t.Fatalf("after the failed save got %v, want %v again", got, first)
	}
	poll(t, e, "m", true)
	gi, err = e.DescribeGroup(tctx(t), "default", "g")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range gi.Partitions {
		if p.Committed != 1 {
			t.Fatalf("%+v: want committed 1", p)
		}
	}
}

// Explicit commits are saved off the group actor too: with the background
// save held, two members' commits are in memory but neither answers, while
// the group keeps serving (describe, another member's poll); released,
// both answer after at most two saves and a restart finds them. A failing
// save fails the commit with a storage error and leaves the offsets as
// they are on disk.
func TestGroupExplicitCommitDurableBeforeAnswer(t *testing.T) {
	dir := t.TempDir()
	e := startEngine(t, testConfig(dir))
	for _, m := range []string{"m0", "m1"} {
		join(t, e, "g", m, config.StartEarliest, "t")
	}
	produceEach(t, e, "t", 8, "a") // two per partition
	for _, m := range []string{"m0", "m1"} {
		if got := bodies(poll(t, e, m, false)); len(got) != 4 {
			t.Fatalf("%s poll got %v", m, got)
		}
	}
	gate, saves := holdSaves(t)
	errs := make(chan error, 2)
	for _, m := range []string{"m0", "m1"} {
		go func() { errs <- e.Commit(tctx(t), "default", m, nil) }()
	}
	waitCommitted(t, e, "g", 4, 2) // describe is served while the save is held
	select {
	case err := <-errs:
		t.Fatalf("a commit answered (%v) before it was durable", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(gate)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("commit: %v", err)
		}
	}
	if n := saves.Load(); n < 1 || n > 2 {
		t.Fatalf("%d background saves for 2 commits, want 1 or 2", n)
	}

	// A failing save: the commit reports it, nothing changes on disk.
	produceEach(t, e, "t", 4, "b")
	if got := bodies(poll(t, e, "m0", false)); len(got) != 2 {
		t.Fatalf("m0 poll got %v", got)
	}
	offsetSaveHook = func() error { return errors.New("disk full") }
	if err := e.Commit(tctx(t), "default", "m0", nil); !errors.Is(err, config.ErrStorage) {
		t.Fatalf("commit with a failing save: %v, want ErrStorage", err)
	}
	offsetSaveHook = nil
	stopEngine(t, e)
	committedAfterRestart(t, dir, "g", 4, 2, " (the first commits, not the failed one)")
}

// holdSaves makes every background offset save wait until gate is closed
// and counts the saves.
func holdSaves(t *testing.T) (gate chan struct{}, saves *atomic.Int32) {
	gate, saves = make(chan struct{}), new(atomic.Int32)
	offsetSaveHook = func() error {
		saves.Add(1)
		<-gate
		return nil
	}
	t.Cleanup(func() { offsetSaveHook = nil })
	return gate, saves
}

// committedAfterRestart starts an engine on dir (the previous one stopped)
// and asserts that every one of group's partitions has committed offset
// want; why is appended to the failure message.
func committedAfterRestart(t *testing.T, dir, group string, partitions int, want int64, why string) {
	t.Helper()
	e := startEngine(t, testConfig(dir))
	gi, err := e.DescribeGroup(tctx(t), "default", group)
	if err != nil || len(gi.Partitions) != partitions {
		t.Fatalf("describe = %+v, %v", gi, err)
	}
	for _, p := range gi.Partitions {
		if p.Committed != want {
			t.Fatalf("after restart %+v: want committed %d%s", p, want, why)
		}
	}
}

// waitCommitted polls DescribeGroup until all of group's partitions (there
// must be partitions of them) show committed == want in memory.
func waitCommitted(t *testing.T, e *Engine, group string, partitions int, want int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		gi, err := e.DescribeGroup(tctx(t), "default", group)
		if err != nil {
			t.Fatal(err)
		}
		all := len(gi.Partitions) == partitions
		for _, p := range gi.Partitions {
			all = all && p.Committed == want
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("commits not applied: %+v", gi.Partitions)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
