package actors

import (
	"errors"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/weirflow/weir/config"
)

// restartActor makes the supervisor rebuild an actor the way a panic does
// (Restarting, a fresh instance from the producer, Started; the PID stays).
func restartActor(t *testing.T, e *Engine, pid *actor.PID) {
	t.Helper()
	proc, ok := e.system.ProcessRegistry.Get(pid)
	if !ok {
		t.Fatalf("no process for %v", pid)
	}
	proc.SendSystemMessage(pid, &actor.Restart{})
}

// A group actor rebuilt after a panic has lost its members (they live in
// memory only). The manager's member registry must agree, or the ids stay
// locked to a group that no longer knows them; and the rebuilt group must
// use the namespace's current topics, not the ones it was first spawned
// with, or it would prune the commits of topics created since as stale.
func TestGroupRestartKeepsRegistryConsistent(t *testing.T) {
	e := startEngine(t, testConfig(t.TempDir()))
	ctx := tctx(t)
	// One partition each: the pairs t1/0, t2/0 go to c1, c2.
	if _, _, err := e.CreateTopic(ctx, "default", "t1", config.TopicProps{Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	join(t, e, "g", "c1", config.StartEarliest, "t1") // spawns g knowing t1 only
	if _, _, err := e.CreateTopic(ctx, "default", "t2", config.TopicProps{Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	join(t, e, "g", "c2", config.StartEarliest, "t2")
	produceEach(t, e, "t2", 3, "a")
	if got := bodies(poll(t, e, "c2", false)); len(got) != 3 {
		t.Fatalf("first poll = %v", got)
	}
	if err := e.Commit(ctx, "default", "c2", nil); err != nil {
		t.Fatal(err)
	}

	gr, err := ask[*groupsResp](ctx, e, &listGroupsReq{NS: "default"}, "list groups")
	if err != nil || len(gr.PIDs) != 1 {
		t.Fatalf("groups: %+v, %v", gr, err)
	}
	restartActor(t, e, gr.PIDs[0])

	// The ids are free again: c1 may join another group (it was refused
	// as a conflict while the registry still tied it to g).
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := e.JoinGroup(ctx, config.JoinRequest{Namespace: "default", Group: "h", Member: "c1", Topics: []string{"t1"}})
		if err == nil {
			break
		}
		if !errors.Is(err, config.ErrMemberConflict) || time.Now().After(deadline) {
			t.Fatalf("join c1 to another group after g restarted: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := e.Poll(ctx, config.PollRequest{Namespace: "default", Member: "c2"}); !errors.Is(err, config.ErrNotMember) {
		t.Fatalf("poll by a member the restarted group lost: %v, want ErrNotMember", err)
	}
	gi, err := e.DescribeGroup(ctx, "default", "g")
	if err != nil {
		t.Fatal(err)
	}
	if len(gi.Members) != 0 {
		t.Fatalf("restarted group still lists members %+v", gi.Members)
	}
	committed := int64(-1)
	for _, p := range gi.Partitions {
		if p.Topic == "t2" {
			committed = p.Committed
		}
	}
	if committed != 3 {
		t.Fatalf("t2's commit after the restart = %d, want 3 (partitions %+v)", committed, gi.Partitions)
	}

	// c2 joins again and resumes after its commit.
	join(t, e, "g", "c2", config.StartEarliest, "t2")
	produceEach(t, e, "t2", 1, "b")
	if got := bodies(poll(t, e, "c2", false)); len(got) != 1 || got[0] != "0:3:b0" {
		t.Fatalf("poll after re-join = %v, want only the new event", got)
	}
}

// CreateTopic answers once the partitions exist and lists them; GetTopic
// right after it (or after a produce that created the topic) lists all P.
func TestCreateTopicListsPartitions(t *testing.T) {
	e := startEngine(t, testConfig(t.TempDir()))
	ctx := tctx(t)
	check := func(what string, info config.TopicInfo, want int) {
		t.Helper()
		if len(info.Partitions) != want || info.Props.Partitions != want {
			t.Fatalf("%s: %d partitions listed, props %d, want %d", what, len(info.Partitions), info.Props.Partitions, want)
		}
		for i, p := range info.Partitions {
			if p.Partition != i || p.NextOffset != 0 || p.FirstOffset != 0 {
				t.Fatalf("%s: partition %d = %+v", what, i, p)
			}
		}
	}
	for i, parts := range []int{1, 3, 8, 1, 5, 16} {
		name := "t" + string(rune('a'+i))
		info, created, err := e.CreateTopic(ctx, "default", name, config.TopicProps{Partitions: parts})
		if err != nil || !created {
			t.Fatalf("create %s: %v, %v", name, created, err)
		}
		check("create "+name, info, parts)
		got, err := e.GetTopic(ctx, "default", name)
		if err != nil {
			t.Fatal(err)
		}
		check("get "+name, got, parts)
		again, created, err := e.CreateTopic(ctx, "default", name, config.TopicProps{})
		if err != nil || created {
			t.Fatalf("create existing %s: %v, %v", name, created, err)
		}
		check("create existing "+name, again, parts)
	}
	mustProduce(t, e, config.ProduceRequest{Namespace: "default", Topic: "auto", CreateTopic: true, Messages: msgs("x", 1)})
	got, err := e.GetTopic(ctx, "default", "auto")
	if err != nil || len(got.Partitions) != testConfig("").Storage.DefaultPartitions {
		t.Fatalf("topic created by produce: %+v, %v", got, err)
	}
}
