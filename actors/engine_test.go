package actors

import (
	"errors"
	"fmt"
	"testing"

	"github.com/weirflow/weir/config"
)

func TestProduceReadFetchPersist(t *testing.T) {
	dir := t.TempDir()
	e := startEngine(t, testConfig(dir))
	ctx := tctx(t)
	info, created, err := e.CreateTopic(ctx, "default", "orders", config.TopicProps{Partitions: 3, TTLMillis: config.TTLForever})
	if err != nil || !created || info.Props.Partitions != 3 {
		t.Fatalf("CreateTopic = %+v, %v, %v", info, created, err)
	}
	// Keyless produce is round robin, one step per request, from 0.
	var results []config.ProduceResult
	for i := 0; i < 6; i++ {
		results = append(results, mustProduce(t, e, config.ProduceRequest{Namespace: "default", Topic: "orders",
			Messages: msgs(fmt.Sprintf("r%d", i), 2)}))
	}
	for i, r := range results {
		if r.Partition != i%3 || r.Count != 2 || r.FirstOffset != int64(i/3)*2 {
			t.Fatalf("request %d: %+v", i, r)
		}
		if i > 0 && r.Timestamp <= results[i-1].Timestamp {
			t.Fatalf("timestamps not increasing: %d then %d", results[i-1].Timestamp, r.Timestamp)
		}
	}
	// Keyed produce goes to PartitionForKey.
	kr := mustProduce(t, e, config.ProduceRequest{Namespace: "default", Topic: "orders", Key: []byte("user-42"), Messages: msgs("k", 1)})
	if want := config.PartitionForKey([]byte("user-42"), 3); kr.Partition != want {
		t.Fatalf("keyed partition %d, want %d", kr.Partition, want)
	}
	evs, err := e.ReadRange(ctx, "default", "orders", 0, 1<<62, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 13 {
		t.Fatalf("ReadRange got %d events, want 13", len(evs))
	}
	for i := 1; i < len(evs); i++ {
		a, b := evs[i-1], evs[i]
		if a.Timestamp > b.Timestamp || (a.Timestamp == b.Timestamp && a.Offset >= b.Offset) {
			t.Fatalf("not merged in order at %d: %+v then %+v", i, a, b)
		}
	}
	if string(evs[0].Body) != "r0-0" || string(evs[1].Body) != "r0-1" || string(evs[12].Body) != "k-0" || string(evs[12].Key) != "user-42" {
		t.Fatalf("unexpected order: first %q %q last %q", evs[0].Body, evs[1].Body, evs[12].Body)
	}
	// limit and a range in the middle.
	part, err := e.ReadRange(ctx, "default", "orders", results[2].Timestamp, results[4].Timestamp, 100)
	if err != nil || len(part) != 4 || string(part[0].Body) != "r2-0" || string(part[3].Body) != "r3-1" {
		t.Fatalf("middle range = %d events, %v", len(part), err)
	}
	lim, _ := e.ReadRange(ctx, "default", "orders", 0, 1<<62, 3)
	if len(lim) != 3 {
		t.Fatalf("limit 3 gave %d", len(lim))
	}
	fr, err := e.Fetch(ctx, "default", "orders", 1, 1, 10, 0)
	if err != nil || len(fr.Events) < 3 || fr.Events[0].Offset != 1 || string(fr.Events[0].Body) != "r1-1" || fr.NextOffset < 4 {
		t.Fatalf("Fetch = %+v, %v", fr, err)
	}
	if _, err := e.Fetch(ctx, "default", "orders", 3, 0, 10, 0); !errors.Is(err, config.ErrPartitionNotFound) {
		t.Fatalf("Fetch partition 3: %v", err)
	}

	stopEngine(t, e)
	e2 := startEngine(t, testConfig(dir))
	ctx = tctx(t)
	evs2, err := e2.ReadRange(ctx, "default", "orders", 0, 1<<62, 100)
	if err != nil || len(evs2) != 13 {
		t.Fatalf("after restart: %d events, %v", len(evs2), err)
	}
	for i := range evs {
		if string(evs[i].Body) != string(evs2[i].Body) || evs[i].Offset != evs2[i].Offset || evs[i].Timestamp != evs2[i].Timestamp {
			t.Fatalf("event %d changed across restart", i)
		}
	}
	// The clock is seeded from the partitions: the next append is newer.
	r := mustProduce(t, e2, config.ProduceRequest{Namespace: "default", Topic: "orders", Messages: msgs("after", 1)})
	if r.Timestamp <= evs[len(evs)-1].Timestamp {
		t.Fatalf("timestamp after restart %d not above %d", r.Timestamp, evs[len(evs)-1].Timestamp)
	}
	ti, err := e2.GetTopic(ctx, "default", "orders")
	if err != nil || len(ti.Partitions) != 3 || ti.ID != info.ID {
		t.Fatalf("GetTopic = %+v, %v", ti, err)
	}
}
