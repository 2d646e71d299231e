package actors

import (
	"context"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// TestStreamActorsAreSupervisedChildren checks DESIGN's tree: every stream
// actor is a child of the one streams supervisor (pid "streams/<id>"), a
// deleted stream's actor is gone, an id can be reused at once, and Close
// stops the supervisor with every child.
func TestStreamActorsAreSupervisedChildren(t *testing.T) {
	e := startEngine(t, testConfig(t.TempDir()))
	s, err := NewStreams(e, StreamsOptions{StopTimeout: 5 * time.Second, Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const cfg = "input:\n  generate:\n    interval: 1s\n    mapping: root = 1\noutput:\n  drop: {}\n"
	for _, id := range []string{"a", "b c"} {
		if err := s.Create(ctx, id, []byte(cfg), false); err != nil {
			t.Fatalf("create %q: %v", id, err)
		}
		if got, want := s.entry(id).pid.Id, s.sup.Id+"/"+id; got != want {
			t.Fatalf("stream %q pid %q, want %q", id, got, want)
		}
	}
	first := s.entry("a").pid
	if err := s.Delete(ctx, "a", time.Second); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.actorSystem().ProcessRegistry.GetLocal(first.Id); ok {
		t.Fatalf("deleted stream's actor %s still registered", first.Id)
	}
	if err := s.Create(ctx, "a", []byte(cfg), false); err != nil {
		t.Fatalf("re-create: %v", err)
	}
	if got := s.entry("a").pid.Id; got != s.sup.Id+"/a" {
		t.Fatalf("re-created pid %q", got)
	}
	children := []*actor.PID{s.entry("a").pid, s.entry("b c").pid}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, pid := range append(children, s.sup) {
		if _, ok := e.actorSystem().ProcessRegistry.GetLocal(pid.Id); ok {
			t.Fatalf("%s still running after Close", pid.Id)
		}
	}
	// The manager is the root of the whole tree (DESIGN "Actors").
	if want := e.manager.Id + "/" + streamsSupervisorName; s.sup.Id != want {
		t.Fatalf("supervisor pid %q, want %q (a child of the manager)", s.sup.Id, want)
	}
}
