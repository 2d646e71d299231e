package actors

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/weirflow/weir/config"
)

// A namespace holding a live consumer group must be deleted promptly: the
// group actors are stopped, not drained like topics (they never answer a
// drain, so asking them cost a whole request timeout per group).
func TestDeleteNamespaceWithLiveGroupIsPrompt(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.Server.RequestTimeout = config.Duration(30 * time.Second)
	e := startEngine(t, cfg)
	ctx := tctx(t)
	if _, err := e.CreateNamespace(ctx, "ns1", ""); err != nil {
		t.Fatal(err)
	}
	mustProduce(t, e, config.ProduceRequest{Namespace: "ns1", Topic: "src", Messages: msgs("m", 3), CreateTopic: true})
	if _, err := e.JoinGroup(ctx, config.JoinRequest{Namespace: "ns1", Group: "g", Member: "m1",
		Topics: []string{"src"}, StartFrom: config.StartEarliest}); err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	if err := e.DeleteNamespace(dctx, "ns1"); err != nil {
		t.Fatalf("DeleteNamespace after %v: %v", time.Since(start), err)
	}
	if _, err := e.GetNamespace(ctx, "ns1"); !errors.Is(err, config.ErrNamespaceNotFound) {
		t.Fatalf("namespace still there: %v", err)
	}
}
