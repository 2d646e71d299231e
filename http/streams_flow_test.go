package http_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benthosdev/benthos/v4/public/service"

	"github.com/weirflow/weir/config"
	"github.com/weirflow/weir/plugins"
)

// Test plugins, registered the way plugin authors do.
var panicOnce atomic.Bool

func init() {
	// Panics on every message: the stream is restarted with backoff and
	// marked failed after maxPanicRestarts restarts.
	plugins.RegisterProcessor("weir_test_panic", service.NewConfigSpec(),
		func(*service.ParsedConfig, *service.Resources) (service.Processor, error) {
			return panicProcessor(func() bool { return true }), nil
		})
	// Panics on the first message it ever sees, then behaves.
	plugins.RegisterProcessor("weir_test_panic_once", service.NewConfigSpec(),
		func(*service.ParsedConfig, *service.Resources) (service.Processor, error) {
			return panicProcessor(func() bool { return panicOnce.CompareAndSwap(false, true) }), nil
		})
}

type panicProcessor func() bool

func (p panicProcessor) Process(_ context.Context, m *service.Message) (service.MessageBatch, error) {
	if p() {
		panic("test plugin panic")
	}
	return service.MessageBatch{m}, nil
}

func (panicProcessor) Close(context.Context) error { return nil }

func produceNDJSON(t testing.TB, base, topic, key string, lines []string) {
	t.Helper()
	url := base + "/v1/topic/" + topic + "/messages"
	if key != "" {
		url += "?partitionKey=" + key
	}
	req, err := http.NewRequest("POST", url, strings.NewReader(strings.Join(lines, "\n")+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("produce: %d", res.StatusCode)
	}
}

// Events produced to topic A through the PolarStreams route pass through a
// stream with a mapping into topic B; a graceful restart in the middle loses
// and duplicates nothing (committed offsets + durable output).
func TestStreamsTopicToTopicAcrossRestart(t *testing.T) {
	ts := startServer(t, nil)
	produceRange := func(from, to int) {
		for start := from; start < to; start += 25 {
			var lines []string
			for n := start; n < start+25 && n < to; n++ {
				lines = append(lines, fmt.Sprintf(`{"n":%d}`, n))
			}
			produceNDJSON(t, ts.URL, "flowA", fmt.Sprintf("k%d", start), lines)
		}
	}
	produceRange(0, 100)
	a2b := "input:\n  weir:\n    topic: flowA\n    group: flow\n    start_from: earliest\n" +
		"pipeline:\n  processors:\n    - mapping: 'root = this.merge({\"mapped\": true})'\n" +
		"output:\n  weir:\n    topic: flowB\n    partition_key: ${! this.n }\n"
	wantE200(t, call(t, "POST", ts.URL+"/streams/a2b", a2b))
	eventually(t, 10*time.Second, "first 100 in B", func() bool { return len(readTopic(t, ts, "default", "flowB")) == 100 })
	// The input joined its group as member stream/<id>.
	gi, err := ts.Engine.DescribeGroup(context.Background(), "default", "flow")
	if err != nil || len(gi.Members) != 1 || gi.Members[0].ID != "stream/a2b" {
		t.Fatalf("group %+v %v", gi, err)
	}
	produceRange(100, 200)
	ts.Restart(t)
	produceRange(200, 300)
	eventually(t, 15*time.Second, "300 in B", func() bool { return len(readTopic(t, ts, "default", "flowB")) >= 300 })
	seen := map[int]int{}
	for _, e := range readTopic(t, ts, "default", "flowB") {
		var v struct {
			N      int  `json:"n"`
			Mapped bool `json:"mapped"`
		}
		if err := json.Unmarshal(e.Body, &v); err != nil || !v.Mapped {
			t.Fatalf("event %q: %v", e.Body, err)
		}
		if string(e.Key) != fmt.Sprint(v.N) {
			t.Fatalf("key %q for n=%d", e.Key, v.N)
		}
		seen[v.N]++
	}
	for n := 0; n < 300; n++ {
		if seen[n] != 1 {
			t.Fatalf("n=%d seen %d times", n, seen[n])
		}
	}
	if len(seen) != 300 {
		t.Fatalf("%d distinct events", len(seen))
	}
}

// A panicking processor plugin restarts its stream (never the server) and
// the stream is marked failed after repeated panics.
func TestStreamsPanickingPluginRestarts(t *testing.T) {
	ts := startServer(t, nil)
	body := "input:\n  generate:\n    interval: 20ms\n    mapping: root = \"boom\"\npipeline:\n  processors:\n    - weir_test_panic: {}\noutput:\n  drop: {}\n"
	wantE200(t, call(t, "POST", ts.URL+"/streams/boom", body))
	eventually(t, 15*time.Second, "boom failed", func() bool { return getStream(t, ts.URL, "boom").State == "failed" })
	si := getStream(t, ts.URL, "boom")
	if si.Active || !strings.Contains(si.LastError, "panicked") {
		t.Fatalf("%+v", si)
	}
	if r := call(t, "GET", ts.URL+"/ping", ""); r.code != 200 {
		t.Fatalf("server down: %d", r.code)
	}
	// A stream whose plugin panics once comes back and keeps running.
	// The plugin is registered once per process; re-arm it so the test
	// also holds under -count=N.
	panicOnce.Store(false)
	created := time.Now()
	once := strings.Replace(body, "weir_test_panic", "weir_test_panic_once", 1)
	wantE200(t, call(t, "POST", ts.URL+"/streams/once", once))
	eventually(t, 10*time.Second, "once restarted", func() bool {
		si := getStream(t, ts.URL, "once")
		return si.State == "running" && time.Duration(si.Uptime*float64(time.Second)) < time.Since(created)-50*time.Millisecond
	})
	eventually(t, 5*time.Second, "once processes", func() bool {
		st, err := ts.Streams.Stats("once")
		if err != nil {
			return false
		}
		v, _ := st[`output_sent{label="",path="root.output",stream="once"}`].(int64)
		return v > 3
	})
	if si := getStream(t, ts.URL, "once"); si.State != "running" {
		t.Fatalf("%+v", si)
	}
}

// Data flows through input, processor and output resources.
func TestStreamsResourceComponentsFlow(t *testing.T) {
	ts := startServer(t, nil)
	out := filepath.Join(t.TempDir(), "out.txt")
	wantE200(t, call(t, "POST", ts.URL+"/resources/input/in1", "generate:\n  count: 2\n  interval: \"\"\n  mapping: root = \"in1\"\n"))
	wantE200(t, call(t, "POST", ts.URL+"/resources/processor/up", "mapping: root = content().uppercase()"))
	wantE200(t, call(t, "POST", ts.URL+"/resources/output/file1", "file:\n  path: "+out+"\n  codec: lines\n"))
	wantE200(t, call(t, "POST", ts.URL+"/streams/res", "input:\n  resource: in1\npipeline:\n  processors:\n    - resource: up\noutput:\n  resource: file1\n"))
	eventually(t, 5*time.Second, "two lines", func() bool { return reflect.DeepEqual(fileLines(out), []string{"IN1", "IN1"}) })
	// Resources survive a restart.
	ts.Restart(t)
	wantE200(t, call(t, "POST", ts.URL+"/streams/res2", "input:\n  generate:\n    count: 1\n    interval: \"\"\n    mapping: root = \"b\"\npipeline:\n  processors:\n    - resource: up\noutput:\n  resource: file1\n"))
	eventually(t, 5*time.Second, "B appended", func() bool {
		l := fileLines(out)
		return len(l) > 0 && l[len(l)-1] == "B"
	})
}

// CDAP usage lookups answer from the topics each stream's weir components
// name.
func TestStreamsTopicsUsed(t *testing.T) {
	ts := startServer(t, nil)
	cfg := "input:\n  weir:\n    topic: src\n    group: g\noutput:\n  broker:\n    outputs:\n      - weir:\n          topic: dst\n          namespace: ns1\n      - weir:\n          topic: src\n"
	wantE200(t, call(t, "POST", ts.URL+"/streams/p1?chilled=true", cfg))
	used, err := ts.Streams.TopicsUsed(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []config.TopicRef{{Namespace: "default", Topic: "src"}, {Namespace: "ns1", Topic: "dst"}}
	if !reflect.DeepEqual(used["p1"], want) {
		t.Fatalf("used %v", used)
	}
	r := call(t, "GET", ts.URL+"/v3/namespaces/default/apps/p1/streams", "")
	if r.code != 200 || !strings.Contains(r.body, `"streamName":"src"`) || strings.Contains(r.body, "dst") {
		t.Fatalf("usage route: %d %q", r.code, r.body)
	}
}
