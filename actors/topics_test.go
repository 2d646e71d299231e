package actors

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weirflow/weir/config"
)

func TestNamespacesAndTopicAdmin(t *testing.T) {
	dir := t.TempDir()
	e := startEngine(t, testConfig(dir))
	ctx := tctx(t)
	if created, err := e.CreateNamespace(ctx, "sales", "the sales team"); err != nil || !created {
		t.Fatalf("create ns: %v %v", created, err)
	}
	if created, err := e.CreateNamespace(ctx, "sales", "other"); err != nil || created {
		t.Fatalf("create existing ns: %v %v", created, err)
	}
	nss, err := e.ListNamespaces(ctx)
	if err != nil || len(nss) != 2 || nss[0].Name != "default" || nss[1] != (config.NamespaceInfo{Name: "sales", Description: "the sales team"}) {
		t.Fatalf("list ns = %+v, %v", nss, err)
	}
	if _, err := e.GetNamespace(ctx, "nope"); !errors.Is(err, config.ErrNamespaceNotFound) {
		t.Fatalf("get missing ns: %v", err)
	}
	if err := e.DeleteNamespace(ctx, "default"); !errors.Is(err, config.ErrNamespaceProtected) {
		t.Fatalf("delete default: %v", err)
	}
	if _, _, err := e.CreateTopic(ctx, "nope", "t", config.DefaultTopicProps()); !errors.Is(err, config.ErrNamespaceNotFound) {
		t.Fatalf("topic in missing ns: %v", err)
	}
	desc := "web logs"
	info, _, err := e.CreateTopic(ctx, "sales", "b", config.TopicProps{TTLMillis: 5000, Description: &desc, NotificationThresholdMB: 7})
	if err != nil || info.Props.Partitions != 4 || info.Props.TTLMillis != 5000 || *info.Props.Description != desc {
		t.Fatalf("create topic = %+v, %v", info, err)
	}
	if _, _, err := e.CreateTopic(ctx, "sales", "a", config.DefaultTopicProps()); err != nil {
		t.Fatal(err)
	}
	// Creating again changes nothing.
	again, created, err := e.CreateTopic(ctx, "sales", "b", config.TopicProps{Partitions: 9})
	if err != nil || created || again.ID != info.ID || again.Props.Partitions != 4 {
		t.Fatalf("re-create = %+v %v %v", again, created, err)
	}
	list, err := e.ListTopics(ctx, "sales")
	if err != nil || len(list) != 2 || list[0].Name != "a" || list[1].Name != "b" {
		t.Fatalf("list topics = %+v, %v", list, err)
	}
	props := info.Props
	props.TTLMillis = 10
	props.Partitions = 0
	if err := e.SetTopicProps(ctx, "sales", "b", props); err != nil {
		t.Fatal(err)
	}
	if err := e.SetTopicProps(ctx, "sales", "b", config.TopicProps{Partitions: 2}); !errors.Is(err, config.ErrInvalidArgument) {
		t.Fatalf("changing partitions: %v", err)
	}
	mustProduce(t, e, config.ProduceRequest{Namespace: "sales", Topic: "b", Messages: msgs("x", 3)})
	// Produce never creates a namespace, and creates a topic only when asked.
	if _, err := e.Produce(ctx, config.ProduceRequest{Namespace: "sales", Topic: "c", Messages: msgs("x", 1)}); !errors.Is(err, config.ErrTopicNotFound) {
		t.Fatalf("produce to missing topic: %v", err)
	}
	if _, err := e.Produce(ctx, config.ProduceRequest{Namespace: "nope", Topic: "c", CreateTopic: true, Messages: msgs("x", 1)}); !errors.Is(err, config.ErrNamespaceNotFound) {
		t.Fatalf("produce to missing ns: %v", err)
	}
	stopEngine(t, e)

	e = startEngine(t, testConfig(dir))
	ctx = tctx(t)
	got, err := e.GetTopic(ctx, "sales", "b")
	if err != nil || got.Props.TTLMillis != 10 || got.ID != info.ID || *got.Props.Description != desc || got.Partitions[0].NextOffset != 3 {
		t.Fatalf("after restart: %+v, %v", got, err)
	}
	if err := e.DeleteNamespace(ctx, "sales"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.GetTopic(ctx, "sales", "b"); !errors.Is(err, config.ErrNamespaceNotFound) {
		t.Fatalf("topic of deleted ns: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, topicsDir, info.ID)); !os.IsNotExist(err) {
		t.Fatalf("files of a deleted namespace's topic remain: %v", err)
	}
}

func TestTruncateAndDelete(t *testing.T) {
	dir := t.TempDir()
	e := startEngine(t, testConfig(dir))
	ctx := tctx(t)
	info, _, err := e.CreateTopic(ctx, "default", "t", config.TopicProps{Partitions: 1, TTLMillis: config.TTLForever})
	if err != nil {
		t.Fatal(err)
	}
	join(t, e, "g", "c", config.StartEarliest, "t")
	produceEach(t, e, "t", 5, "a")
	if got := bodies(poll(t, e, "c", true)); len(got) != 5 {
		t.Fatalf("poll = %v", got)
	}
	if err := e.Commit(ctx, "default", "c", nil); err != nil {
		t.Fatal(err)
	}
	if err := e.TruncateTopic(ctx, "default", "t"); err != nil {
		t.Fatal(err)
	}
	if evs, err := e.ReadRange(ctx, "default", "t", 0, 1<<62, 100); err != nil || len(evs) != 0 {
		t.Fatalf("read after truncate = %d, %v", len(evs), err)
	}
	r := mustProduce(t, e, config.ProduceRequest{Namespace: "default", Topic: "t", Messages: msgs("b", 1)})
	if r.FirstOffset != 5 {
		t.Fatalf("offset after truncate %d, want 5", r.FirstOffset)
	}
	fr, err := e.Fetch(ctx, "default", "t", 0, 0, 10, 0)
	if err != nil || fr.FirstOffset != 5 || len(fr.Events) != 1 || fr.Events[0].Offset != 5 {
		t.Fatalf("fetch from 0 after truncate = %+v, %v", fr, err)
	}
	stopEngine(t, e)
	e = startEngine(t, testConfig(dir))
	ctx = tctx(t)
	if r := mustProduce(t, e, config.ProduceRequest{Namespace: "default", Topic: "t", Messages: msgs("c", 1)}); r.FirstOffset != 6 {
		t.Fatalf("offset after truncate and restart %d, want 6", r.FirstOffset)
	}
	join(t, e, "g", "c", config.StartEarliest, "t")
	gi, _ := e.DescribeGroup(ctx, "default", "g")
	if len(gi.Partitions) != 1 || gi.Partitions[0].Committed != 5 {
		t.Fatalf("group before delete: %+v", gi)
	}

	if err := e.DeleteTopic(ctx, "default", "t"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, topicsDir, info.ID)); !os.IsNotExist(err) {
		t.Fatalf("deleted topic's files remain: %v", err)
	}
	if a := assignment(t, e, "g"); len(a["c"]) != 0 {
		t.Fatalf("deleted topic still assigned: %v", a)
	}
	if _, err := e.Fetch(ctx, "default", "t", 0, 0, 10, 0); !errors.Is(err, config.ErrTopicNotFound) {
		t.Fatalf("fetch of deleted topic: %v", err)
	}
	// A new incarnation: new id, offsets from 0, no old commits.
	r = mustProduce(t, e, config.ProduceRequest{Namespace: "default", Topic: "t", CreateTopic: true, Messages: msgs("new", 1)})
	if r.FirstOffset != 0 {
		t.Fatalf("re-created topic starts at %d", r.FirstOffset)
	}
	ni, err := e.GetTopic(ctx, "default", "t")
	if err != nil || ni.ID == info.ID {
		t.Fatalf("re-created topic id %q (old %q), %v", ni.ID, info.ID, err)
	}
	gi, _ = e.DescribeGroup(ctx, "default", "g")
	for _, p := range gi.Partitions {
		if p.Committed > 0 {
			t.Fatalf("old incarnation's commit kept: %+v", p)
		}
	}
	if got := bodies(poll(t, e, "c", true)); len(got) != 1 || !strings.HasSuffix(got[0], ":0:new-0") {
		t.Fatalf("poll of re-created topic = %v", got)
	}
}

// Time-range reads are exact at every event, including those that start
// or end a segment (segments here hold a few dozen events).
func TestReadRangeExactAtSegmentBoundaries(t *testing.T) {
	e := startEngine(t, testConfig(t.TempDir()))
	ctx := tctx(t)
	if _, _, err := e.CreateTopic(ctx, "default", "t", config.TopicProps{Partitions: 2, TTLMillis: config.TTLForever}); err != nil {
		t.Fatal(err)
	}
	body := strings.Repeat("x", 1000)
	var ts []int64
	for i := 0; i < 300; i++ {
		r := mustProduce(t, e, config.ProduceRequest{Namespace: "default", Topic: "t",
			Messages: []config.Message{{Body: []byte(body + string(rune('a'+i%26)))}}})
		ts = append(ts, r.Timestamp)
	}
	ti, _ := e.GetTopic(ctx, "default", "t")
	if ti.Partitions[0].SizeBytes < 2*64*1024 {
		t.Fatalf("expected several segments, partition 0 is %d bytes", ti.Partitions[0].SizeBytes)
	}
	for i := 0; i+1 < len(ts); i++ {
		evs, err := e.ReadRange(ctx, "default", "t", ts[i], ts[i+1], 10)
		if err != nil || len(evs) != 1 || evs[0].Timestamp != ts[i] || evs[0].Partition != i%2 || evs[0].Offset != int64(i/2) {
			t.Fatalf("range [%d,%d) = %+v, %v", ts[i], ts[i+1], evs, err)
		}
	}
	evs, err := e.ReadRange(ctx, "default", "t", ts[100], 1<<62, 1000)
	if err != nil || len(evs) != 200 || evs[0].Timestamp != ts[100] {
		t.Fatalf("tail read = %d, %v", len(evs), err)
	}
	for i := range evs {
		if evs[i].Timestamp != ts[100+i] {
			t.Fatalf("event %d out of order", i)
		}
	}
}

func TestTTLHidesThenRetentionRemoves(t *testing.T) {
	e := startEngine(t, testConfig(t.TempDir()))
	ctx := tctx(t)
	if _, _, err := e.CreateTopic(ctx, "default", "t", config.TopicProps{Partitions: 1, TTLMillis: config.TTLForever}); err != nil {
		t.Fatal(err)
	}
	body := strings.Repeat("y", 2000)
	for i := 0; i < 100; i++ {
		mustProduce(t, e, config.ProduceRequest{Namespace: "default", Topic: "t", Messages: []config.Message{{Body: []byte(body)}}})
	}
	if err := e.SetTopicProps(ctx, "default", "t", config.TopicProps{TTLMillis: 0}); err != nil {
		t.Fatal(err)
	}
	if evs, _ := e.ReadRange(ctx, "default", "t", 0, 1<<62, 1000); len(evs) != 0 {
		t.Fatalf("ttl 0 still shows %d events", len(evs))
	}
	// Offset fetches do not filter by TTL.
	if fr, _ := e.Fetch(ctx, "default", "t", 0, 0, 10, 0); len(fr.Events) == 0 {
		t.Fatal("fetch filtered by TTL")
	}
	// Raising the TTL shows again what retention has not removed.
	if err := e.SetTopicProps(ctx, "default", "t", config.TopicProps{TTLMillis: config.TTLForever}); err != nil {
		t.Fatal(err)
	}
	if evs, _ := e.ReadRange(ctx, "default", "t", 0, 1<<62, 1000); len(evs) != 100 {
		t.Fatalf("raised ttl shows %d events", len(evs))
	}
	if err := e.RunRetention(ctx); err != nil {
		t.Fatal(err)
	}
	if ti, _ := e.GetTopic(ctx, "default", "t"); ti.Partitions[0].FirstOffset != 0 {
		t.Fatalf("retention removed unexpired events: %+v", ti.Partitions[0])
	}
	if err := e.SetTopicProps(ctx, "default", "t", config.TopicProps{TTLMillis: 0}); err != nil {
		t.Fatal(err)
	}
	if err := e.RunRetention(ctx); err != nil {
		t.Fatal(err)
	}
	ti, _ := e.GetTopic(ctx, "default", "t")
	if p := ti.Partitions[0]; p.FirstOffset != 100 || p.NextOffset != 100 {
		t.Fatalf("after retention with everything expired: %+v", p)
	}
	if r := mustProduce(t, e, config.ProduceRequest{Namespace: "default", Topic: "t", Messages: msgs("z", 1)}); r.FirstOffset != 100 {
		t.Fatalf("offset after retention %d", r.FirstOffset)
	}
}

func TestNotificationsOncePerThreshold(t *testing.T) {
	e := startEngine(t, testConfig(t.TempDir()))
	ctx := tctx(t)
	if _, _, err := e.CreateTopic(ctx, "default", "s", config.TopicProps{TTLMillis: config.TTLForever, NotificationThresholdMB: 1}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.CreateTopic(ctx, "default", "fresh", config.TopicProps{TTLMillis: config.TTLForever, NotificationThresholdMB: 1}); err != nil {
		t.Fatal(err)
	}
	half := []config.Message{{Body: make([]byte, 600000)}}
	mustProduce(t, e, config.ProduceRequest{Namespace: "default", Topic: "s", Messages: half})
	// Exactly 1 MiB is not above the threshold.
	mustProduce(t, e, config.ProduceRequest{Namespace: "default", Topic: "fresh", Messages: []config.Message{{Body: make([]byte, 1048576)}}})
	notes := func() []config.Event {
		evs, err := e.ReadRange(ctx, "default", config.NotificationsTopic, 0, 1<<62, 100)
		if err != nil && !errors.Is(err, config.ErrTopicNotFound) {
			t.Fatal(err)
		}
		return evs
	}
	if n := notes(); len(n) != 0 {
		t.Fatalf("notification before the threshold: %s", n[0].Body)
	}
	mustProduce(t, e, config.ProduceRequest{Namespace: "default", Topic: "s", Messages: half})
	var got []config.Event
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got = notes(); len(got) > 0 {
			break
		}
	}
	if len(got) != 1 {
		t.Fatalf("got %d notifications, want 1", len(got))
	}
	var body map[string]any
	if err := json.Unmarshal(got[0].Body, &body); err != nil {
		t.Fatal(err)
	}
	if body["stream"] != "s" || body["namespace"] != "default" || body["size"] != float64(1200000) || body["timestamp"].(float64) < float64(time.Now().Add(-time.Minute).UnixMilli()) {
		t.Fatalf("notification body %s", got[0].Body)
	}
	if !strings.HasPrefix(string(got[0].Body), `{"stream":"s","namespace":"default","timestamp":`) {
		t.Fatalf("key order: %s", got[0].Body)
	}
	// The counter restarts from the notification: 600000 more is not enough.
	mustProduce(t, e, config.ProduceRequest{Namespace: "default", Topic: "s", Messages: half})
	if n := notes(); len(n) != 1 {
		t.Fatalf("%d notifications after a sub-threshold append", len(n))
	}
}
