package http_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/weirflow/weir/config"
)

// TestStreamsConformance runs spec/benthos-streams.md §4 cases 1–61 in order
// on one server with a fresh data directory; cases that name a starting set,
// a server setting or a fresh server start their own.
func TestStreamsConformance(t *testing.T) {
	t.Setenv("WEIR_T_SET", "hello")
	t.Setenv("WEIR_T_UNSET", "x")
	unsetEnv(t, "WEIR_T_UNSET")
	ts := startServer(t, nil)
	u := ts.URL
	g := yamlValue(t, fixtureG)

	t.Run("01 ping version", func(t *testing.T) {
		r := call(t, "GET", u+"/ping", "")
		if r.code != 200 || r.body != "pong" {
			t.Fatalf("ping: %d %q", r.code, r.body)
		}
		r = call(t, "GET", u+"/version", "")
		var v map[string]any
		if r.code != 200 || json.Unmarshal([]byte(r.body), &v) != nil {
			t.Fatalf("version: %d %q", r.code, r.body)
		}
		if _, ok := v["version"].(string); !ok {
			t.Fatalf("version: %q", r.body)
		}
		if _, ok := v["built"].(string); !ok {
			t.Fatalf("built: %q", r.body)
		}
	})
	t.Run("02 no streams", func(t *testing.T) {
		r := call(t, "GET", u+"/ready", "")
		if r.code != 200 || r.body != "OK" {
			t.Fatalf("ready: %d %q", r.code, r.body)
		}
		r = call(t, "GET", u+"/streams", "")
		if r.code != 200 || r.body != "{}" || r.header.Get("Content-Type") != "application/json" {
			t.Fatalf("streams: %d %q %v", r.code, r.body, r.header)
		}
	})
	t.Run("03 create", func(t *testing.T) {
		wantE200(t, call(t, "POST", u+"/streams/foo", fixtureG))
	})
	t.Run("04 exists", func(t *testing.T) {
		wantText(t, call(t, "POST", u+"/streams/foo", fixtureG), 400, "Stream already exists")
	})
	t.Run("05 json body", func(t *testing.T) {
		b, _ := json.Marshal(g)
		wantE200(t, call(t, "POST", u+"/streams/fooj", string(b)))
		if got := getStream(t, u, "fooj").Config; !reflect.DeepEqual(got, g) {
			t.Fatalf("config %v, want %v", got, g)
		}
	})
	t.Run("06 list", func(t *testing.T) {
		m := listStreams(t, u)
		for _, id := range []string{"foo", "fooj"} {
			e, ok := m[id]
			if !ok || len(e) != 3 {
				t.Fatalf("%s: %v", id, e)
			}
			if _, ok := e["active"].(bool); !ok {
				t.Fatalf("%s active: %v", id, e)
			}
			if _, ok := e["uptime"].(float64); !ok {
				t.Fatalf("%s uptime: %v", id, e)
			}
			s, _ := e["uptime_str"].(string)
			if _, err := time.ParseDuration(s); err != nil {
				t.Fatalf("%s uptime_str %q: %v", id, s, err)
			}
		}
	})
	t.Run("07 get", func(t *testing.T) {
		si := getStream(t, u, "foo")
		if !si.Active || si.State != "running" || si.LastError != "" || !reflect.DeepEqual(si.Config, g) {
			t.Fatalf("%+v", si)
		}
	})
	t.Run("08 missing", func(t *testing.T) {
		wantText(t, call(t, "GET", u+"/streams/nope", ""), 404, "Stream not found")
	})
	t.Run("09 lint", func(t *testing.T) {
		body := "input:\n  generate:\n    interval: 1s\n    mapping: root =\n    nope: true\noutput:\n  drop: {}\n  bogus: 1\n"
		wantLint(t, call(t, "POST", u+"/streams/bar", body), []string{
			"(4,21) expected whitespace, but reached end of input",
			"(5,1) field nope not recognised",
			"(8,1) field bogus is invalid when the component type is drop (output)",
		})
		wantText(t, call(t, "GET", u+"/streams/bar", ""), 404, "Stream not found")
	})
	t.Run("10 yaml", func(t *testing.T) {
		wantText(t, call(t, "POST", u+"/streams/bar", "input: ["), 400, "Error: yaml: line 1: did not find expected node content")
	})
	t.Run("11 chilled", func(t *testing.T) {
		body := "input:\n  generate:\n    interval: 1s\n    mapping: root = \"x\"\n    nope: true\noutput:\n  drop: {}\n"
		wantE200(t, call(t, "POST", u+"/streams/bar?chilled=true", body))
		cfg := getStream(t, u, "bar").Config.(map[string]any)
		if cfg["input"].(map[string]any)["generate"].(map[string]any)["nope"] != true {
			t.Fatalf("echo %v", cfg)
		}
	})
	t.Run("12 resources in stream config", func(t *testing.T) {
		body := "input:\n  generate:\n    interval: 1s\n    mapping: root = \"x\"\noutput:\n  drop: {}\n" +
			"cache_resources:\n  - label: inner\n    memory: {}\nmetrics:\n  prometheus: {}\nresources: {}\n"
		wantLint(t, call(t, "POST", u+"/streams/res", body), []string{
			"(7,1) field cache_resources not recognised",
			"(10,1) field metrics not recognised",
			"(12,1) field resources not recognised",
		})
		wantE200(t, call(t, "POST", u+"/streams/res?chilled=true", body))
		if _, ok := getStream(t, u, "res").Config.(map[string]any)["cache_resources"]; !ok {
			t.Fatal("echo lost cache_resources")
		}
		user := "input:\n  generate:\n    interval: 1s\n    mapping: root = \"x\"\npipeline:\n  processors:\n    - cache:\n        resource: inner\n        operator: get\n        key: k\noutput:\n  drop: {}\n"
		r := call(t, "POST", u+"/streams/res_user", user)
		wantText(t, r, 502, "Error: failed to init processor <no label> path root.pipeline.processors.0: cache resource 'inner' was not found")
	})
	t.Run("13 parse error", func(t *testing.T) {
		body := "input:\n  not_a_real_input: {}\noutput:\n  drop: {}"
		want := "Error: (2,1) unable to infer input type from candidates: [not_a_real_input]"
		wantText(t, call(t, "POST", u+"/streams/bar13", body), 400, want)
		wantText(t, call(t, "POST", u+"/streams/bar13?chilled=true", body), 400, want)
	})
	t.Run("14 empty body", func(t *testing.T) {
		wantLint(t, call(t, "POST", u+"/streams/empty", ""), []string{"(0,1) expected object value, got !!null"})
		wantE200(t, call(t, "POST", u+"/streams/empty?chilled=true", ""))
		if c := getStream(t, u, "empty").Config; c != nil {
			t.Fatalf("config %v", c)
		}
		// The defaults read stdin; nothing here depends on it running.
		wantE200(t, call(t, "DELETE", u+"/streams/empty?timeout=1s", ""))
	})
	t.Run("15 construction error", func(t *testing.T) {
		body := "input:\n  generate:\n    mapping: \"root = \"\noutput:\n  drop: {}\n"
		wantText(t, call(t, "POST", u+"/streams/bad1?chilled=true", body), 502, case15Text)
		wantText(t, call(t, "GET", u+"/streams/bad1", ""), 404, "Stream not found")
	})
	t.Run("16 missing resource", func(t *testing.T) {
		body := "input:\n  generate:\n    interval: 1s\n    mapping: root = \"x\"\npipeline:\n  processors:\n    - cache:\n        resource: does_not_exist\n        operator: get\n        key: k\noutput:\n  drop: {}\n"
		wantText(t, call(t, "POST", u+"/streams/bad2", body), 502,
			"Error: failed to init processor <no label> path root.pipeline.processors.0: cache resource 'does_not_exist' was not found")
	})
	t.Run("17 lint beats exists", func(t *testing.T) {
		body := "input:\n  generate:\n    interval: 1s\n    mapping: root = \"x\"\n    nope: 1\n"
		if l := lintEntries(t, call(t, "POST", u+"/streams/foo", body)); len(l) != 1 {
			t.Fatalf("lints %q", l)
		}
	})
	mappingOf := func(si streamInfo) string {
		return si.Config.(map[string]any)["input"].(map[string]any)["generate"].(map[string]any)["mapping"].(string)
	}
	t.Run("18 env", func(t *testing.T) {
		body := "input:\n  generate:\n    interval: 1s\n    mapping: 'root = \"${WEIR_T_SET} ${WEIR_T_UNSET:fallback}\"'\noutput:\n  drop: {}\n"
		wantE200(t, call(t, "POST", u+"/streams/env1", body))
		if m := mappingOf(getStream(t, u, "env1")); m != `root = "hello fallback"` {
			t.Fatalf("mapping %q", m)
		}
		body = "input:\n  generate:\n    interval: 1s\n    mapping: 'root = \"${{WEIR_T_SET}}\"'\noutput:\n  drop: {}\n"
		wantE200(t, call(t, "POST", u+"/streams/env2", body))
		if m := mappingOf(getStream(t, u, "env2")); m != `root = "${WEIR_T_SET}"` {
			t.Fatalf("mapping %q", m)
		}
	})
	t.Run("19 env missing", func(t *testing.T) {
		t.Setenv("WEIR_T_UNSET", "x")
		unsetEnv(t, "WEIR_T_UNSET")
		body := "input:\n  generate:\n    interval: 1s\n    mapping: 'root = \"${WEIR_T_UNSET}\"'\noutput:\n  drop: {}\n"
		wantText(t, call(t, "POST", u+"/streams/env3", body), 400, "Error: required environment variables were not set: [WEIR_T_UNSET]")
		wantE200(t, call(t, "POST", u+"/streams/env3?chilled=true", body))
		if m := mappingOf(getStream(t, u, "env3")); m != `root = ""` {
			t.Fatalf("mapping %q", m)
		}
	})
	t.Run("20 env missing resource", func(t *testing.T) {
		t.Setenv("WEIR_T_UNSET", "x")
		unsetEnv(t, "WEIR_T_UNSET")
		body := "memory:\n  default_ttl: '${WEIR_T_UNSET}'\n"
		wantText(t, call(t, "POST", u+"/resources/cache/e1", body), 400, "Error: required environment variables were not set: [WEIR_T_UNSET]")
		wantE200(t, call(t, "POST", u+"/resources/cache/e1?chilled=true", "memory: {}\nx: '${WEIR_T_UNSET}'\n"))
	})
	newG := strings.Replace(fixtureG, "interval: 50ms", "interval: 40ms", 1)
	t.Run("21 put", func(t *testing.T) {
		before := getStream(t, u, "foo").Uptime
		wantE200(t, call(t, "PUT", u+"/streams/foo", newG))
		si := getStream(t, u, "foo")
		if !reflect.DeepEqual(si.Config, yamlValue(t, newG)) || si.Uptime >= before {
			t.Fatalf("after PUT: %+v (uptime before %v)", si, before)
		}
	})
	t.Run("22 put missing", func(t *testing.T) {
		wantText(t, call(t, "PUT", u+"/streams/nope", fixtureG), 404, "Stream not found")
		wantText(t, call(t, "GET", u+"/streams/nope", ""), 404, "Stream not found")
	})
	t.Run("23 put lint", func(t *testing.T) {
		before := getStream(t, u, "foo")
		body := "input:\n  generate:\n    interval: 1s\n    mapping: root = \"x\"\n    wat: 1\noutput:\n  drop: {}\n"
		wantLint(t, call(t, "PUT", u+"/streams/foo", body), []string{"(5,1) field wat not recognised"})
		after := getStream(t, u, "foo")
		if !reflect.DeepEqual(after.Config, before.Config) || !after.Active || after.State != "running" || after.Uptime < before.Uptime {
			t.Fatalf("foo changed: %+v vs %+v", after, before)
		}
	})
	t.Run("24 put lint missing", func(t *testing.T) {
		wantLint(t, call(t, "PUT", u+"/streams/nope", "input:\n  generate:\n    wat: 1\n"),
			[]string{"(3,1) field wat not recognised", "(3,1) field mapping is required"})
	})
	t.Run("25 put construction error", func(t *testing.T) {
		before := getStream(t, u, "foo")
		body := "input:\n  generate:\n    mapping: \"root = \"\noutput:\n  drop: {}\n"
		wantText(t, call(t, "PUT", u+"/streams/foo?chilled=true", body), 502, case15Text)
		after := getStream(t, u, "foo")
		if !reflect.DeepEqual(after.Config, before.Config) || !after.Active || after.State != "running" {
			t.Fatalf("foo changed: %+v", after)
		}
	})
	patBody := "input:\n  generate:\n    interval: 200ms\n    mapping: root = \"a\"\npipeline:\n  processors:\n    - mapping: root = content()\n    - mapping: root = content()\noutput:\n  drop: {}\n"
	t.Run("26 patch", func(t *testing.T) {
		wantE200(t, call(t, "POST", u+"/streams/pat", patBody))
		wantE200(t, call(t, "PATCH", u+"/streams/pat", "input:\n  generate:\n    interval: 300ms\npipeline:\n  processors:\n    - log:\n        message: patched\n"))
		r := call(t, "GET", u+"/streams/pat", "")
		want := `"config":{"input":{"generate":{"interval":"300ms","mapping":"root = \"a\""}},"output":{"drop":{}},"pipeline":{"processors":[{"log":{"message":"patched"}}]}}`
		if !strings.Contains(r.body, want) {
			t.Fatalf("echo %s", r.body)
		}
	})
	t.Run("27 patch lint", func(t *testing.T) {
		before := getStream(t, u, "pat")
		l := lintEntries(t, call(t, "PATCH", u+"/streams/pat", "input:\n  generate:\n    nonsense_field: 1\n"))
		if len(l) != 1 || !strings.HasSuffix(l[0], "field nonsense_field not recognised") {
			t.Fatalf("lints %q", l)
		}
		if after := getStream(t, u, "pat"); !reflect.DeepEqual(after.Config, before.Config) || after.Uptime < before.Uptime {
			t.Fatalf("pat changed: %+v", after)
		}
		wantE200(t, call(t, "POST", u+"/streams/pat2", patBody))
		wantE200(t, call(t, "PATCH", u+"/streams/pat2?chilled=true", "input:\n  generate:\n    nonsense_field: 1\n"))
		gen := getStream(t, u, "pat2").Config.(map[string]any)["input"].(map[string]any)["generate"].(map[string]any)
		if gen["nonsense_field"] != float64(1) {
			t.Fatalf("echo %v", gen)
		}
	})
	t.Run("28 patch null output", func(t *testing.T) {
		before := getStream(t, u, "pat")
		r := call(t, "PATCH", u+"/streams/pat", "output: null\n")
		if r.code != 400 || !strings.HasPrefix(r.body, "Error: ") || !strings.HasSuffix(r.body, "invalid type !!null, expected object\n") {
			t.Fatalf("%d %q", r.code, r.body)
		}
		if after := getStream(t, u, "pat"); !reflect.DeepEqual(after.Config, before.Config) {
			t.Fatalf("pat changed")
		}
	})
	t.Run("29 patch bad mapping", func(t *testing.T) {
		before := getStream(t, u, "pat")
		body := "input:\n  generate:\n    mapping: \"root = \"\n"
		l := lintEntries(t, call(t, "PATCH", u+"/streams/pat", body))
		if len(l) == 0 || !strings.Contains(strings.Join(l, "|"), "expected query, but reached end of input") {
			t.Fatalf("lints %q", l)
		}
		wantText(t, call(t, "PATCH", u+"/streams/pat?chilled=true", body), 502, case15Text)
		after := getStream(t, u, "pat")
		if !reflect.DeepEqual(after.Config, before.Config) || after.State != "running" {
			t.Fatalf("pat changed: %+v", after)
		}
	})
	t.Run("30 patch missing and yaml", func(t *testing.T) {
		wantText(t, call(t, "PATCH", u+"/streams/nope", "a: 1"), 404, "Stream not found")
		wantText(t, call(t, "PATCH", u+"/streams/pat", "input: ["), 400, "Error: yaml: line 1: did not find expected node content")
	})
	t.Run("31 patch empty", func(t *testing.T) {
		// Case 29's 502 restarted pat; let it age so a reset is visible.
		time.Sleep(300 * time.Millisecond)
		before := getStream(t, u, "pat")
		wantE200(t, call(t, "PATCH", u+"/streams/pat", ""))
		after := getStream(t, u, "pat")
		if !reflect.DeepEqual(after.Config, before.Config) || after.Uptime >= before.Uptime {
			t.Fatalf("after empty patch: %+v (before %+v)", after, before)
		}
	})
	t.Run("32 delete", func(t *testing.T) {
		wantE200(t, call(t, "DELETE", u+"/streams/fooj", ""))
		wantText(t, call(t, "DELETE", u+"/streams/fooj", ""), 404, "Stream not found")
	})
	t.Run("33 delete stuck", func(t *testing.T) {
		wantE200(t, call(t, "POST", u+"/streams/stuck", fixtureStuck))
		r := call(t, "DELETE", u+"/streams/stuck?timeout=1s", "")
		wantE200(t, r)
		if r.took > 7*time.Second {
			t.Fatalf("took %v", r.took)
		}
		wantText(t, call(t, "GET", u+"/streams/stuck", ""), 404, "Stream not found")
	})
	t.Run("34 put stuck", func(t *testing.T) {
		wantE200(t, call(t, "POST", u+"/streams/stuck2", fixtureStuck))
		r := call(t, "PUT", u+"/streams/stuck2?timeout=1s", fixtureG)
		wantE200(t, r)
		if r.took > 7*time.Second {
			t.Fatalf("took %v", r.took)
		}
		if c := getStream(t, u, "stuck2").Config; !reflect.DeepEqual(c, g) {
			t.Fatalf("config %v", c)
		}
	})
	t.Run("35 stop_timeout", func(t *testing.T) {
		ts2 := startServer(t, func(c *config.Config) { c.Streams.StopTimeout = config.Duration(2 * time.Second) })
		wantE200(t, call(t, "POST", ts2.URL+"/streams/stuck", fixtureStuck))
		done := make(chan apiResp, 1)
		go func() { done <- call(t, "DELETE", ts2.URL+"/streams/stuck", "") }()
		// While the stop is in progress, reads answer at once.
		time.Sleep(200 * time.Millisecond)
		if r := call(t, "GET", ts2.URL+"/streams", ""); r.code != 200 || r.took > time.Second {
			t.Fatalf("GET /streams during delete: %d in %v", r.code, r.took)
		}
		select {
		case r := <-done:
			wantE200(t, r)
			if r.took > 7*time.Second {
				t.Fatalf("took %v", r.took)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("DELETE did not return")
		}
	})
	t.Run("36 invalid timeout", func(t *testing.T) {
		wantText(t, call(t, "DELETE", u+"/streams/foo?timeout=abc", ""), 400, `Error: invalid timeout "abc"`)
		getStream(t, u, "foo")
	})
	t.Run("37 set lint", func(t *testing.T) {
		before := listStreams(t, u)
		body := "foo:\n  input:\n    generate:\n      interval: 1s\n      mapping: root = \"x\"\n      zzz: 1\n  output:\n    drop: {}\n" +
			"newone:\n  input:\n    generate:\n      interval: 1s\n      mapping: \"root = \"\n  output:\n    drop: {}\n    extra: true\n"
		wantLint(t, call(t, "POST", u+"/streams", body), []string{
			"stream 'foo': (6,1) field zzz not recognised",
			"stream 'newone': (13,24) expected query, but reached end of input",
			"stream 'newone': (16,1) field extra is invalid when the component type is drop (output)",
		})
		if after := listStreams(t, u); len(after) != len(before) {
			t.Fatalf("set changed: %v", after)
		}
	})
	t.Run("38 set not a map", func(t *testing.T) {
		wantText(t, call(t, "POST", u+"/streams", "[1,2,3]"), 400,
			"Error: yaml: unmarshal errors:\n  line 1: cannot unmarshal !!seq into map[string]yaml.Node")
	})
	t.Run("39 set diff", func(t *testing.T) {
		ts2 := startServer(t, nil)
		wantE200(t, call(t, "POST", ts2.URL+"/streams/a", fixtureG))
		wantE200(t, call(t, "POST", ts2.URL+"/streams/b", fixtureG))
		// Old enough that a restarted b is clearly younger.
		time.Sleep(time.Second)
		before := getStream(t, ts2.URL, "b").Uptime
		g500 := strings.Replace(fixtureG, "50ms", "500ms", 1)
		wantE200(t, call(t, "POST", ts2.URL+"/streams", setBody(map[string]string{"b": g500, "c": fixtureG})))
		m := listStreams(t, ts2.URL)
		if len(m) != 2 || m["b"] == nil || m["c"] == nil {
			t.Fatalf("set %v", m)
		}
		si := getStream(t, ts2.URL, "b")
		if !reflect.DeepEqual(si.Config, yamlValue(t, g500)) || si.Uptime >= before {
			t.Fatalf("b %+v (before %v)", si, before)
		}
	})
	t.Run("40 set all or nothing", func(t *testing.T) {
		ts2 := startServer(t, nil)
		wantE200(t, call(t, "POST", ts2.URL+"/streams/b", fixtureG))
		wantE200(t, call(t, "POST", ts2.URL+"/streams/c", fixtureG))
		broken := fixtureG + "" // plus a cache processor on nope_cache
		broken = strings.Replace(broken, "    - mapping: 'root.doubled = this.n * 2'\n",
			"    - cache:\n        resource: nope_cache\n        operator: get\n        key: k\n    - mapping: 'root.doubled = this.n * 2'\n", 1)
		r := call(t, "POST", ts2.URL+"/streams?chilled=true", setBody(map[string]string{"b": fixtureG, "broken": broken, "ok2": fixtureG}))
		wantText(t, r, 400, "Error: failed to create stream: failed to init processor <no label> path root.pipeline.processors.0: cache resource 'nope_cache' was not found")
		m := listStreams(t, ts2.URL)
		if len(m) != 2 || m["b"] == nil || m["c"] == nil {
			t.Fatalf("set %v", m)
		}
		for _, id := range []string{"b", "c"} {
			if si := getStream(t, ts2.URL, id); !reflect.DeepEqual(si.Config, g) || si.State != "running" {
				t.Fatalf("%s: %+v", id, si)
			}
		}
	})
	t.Run("41 set env", func(t *testing.T) {
		e := strings.Replace(fixtureG, `'root = {"n":counter()}'`, `'root = "${WEIR_T_SET}"'`, 1)
		wantE200(t, call(t, "POST", u+"/streams", setBody(map[string]string{"e": e})))
		if m := mappingOf(getStream(t, u, "e")); m != `root = "hello"` {
			t.Fatalf("mapping %q", m)
		}
	})
	t.Run("42 set empty", func(t *testing.T) {
		wantE200(t, call(t, "POST", u+"/streams", "{}"))
		if r := call(t, "GET", u+"/streams", ""); r.body != "{}" {
			t.Fatalf("streams %q", r.body)
		}
	})
	t.Run("43 collection methods", func(t *testing.T) {
		wantText(t, call(t, "PUT", u+"/streams", ""), 400, "Error: method not supported")
		wantText(t, call(t, "DELETE", u+"/streams", ""), 400, "Error: method not supported")
	})
	t.Run("44 verbs", func(t *testing.T) {
		wantText(t, call(t, "OPTIONS", u+"/streams/foo", ""), 400, "Error: verb not supported: OPTIONS")
		if r := call(t, "HEAD", u+"/streams/foo", ""); r.code != 400 {
			t.Fatalf("HEAD: %d", r.code)
		}
		wantText(t, call(t, "GET", u+"/streams/", ""), 404, "404 page not found")
	})
	t.Run("45 stats", func(t *testing.T) {
		wantE200(t, call(t, "POST", u+"/streams/s", fixtureG))
		time.Sleep(600 * time.Millisecond)
		r := call(t, "GET", u+"/streams/s/stats", "")
		var m map[string]any
		if r.code != 200 || json.Unmarshal([]byte(r.body), &m) != nil {
			t.Fatalf("%d %q", r.code, r.body)
		}
		for _, k := range []string{`input_received{label="",path="root.input",stream="s"}`, `output_sent{label="",path="root.output",stream="s"}`} {
			if v, ok := m[k].(float64); !ok || v < 5 || v != float64(int64(v)) {
				t.Fatalf("%s = %v in %s", k, m[k], r.body)
			}
		}
		if _, ok := m[`processor_received{label="",path="root.pipeline.processors.0",stream="s"}`]; !ok {
			t.Fatalf("no processor_received: %s", r.body)
		}
		lat, _ := m[`input_latency_ns{label="",path="root.input",stream="s"}`].(map[string]any)
		for _, q := range []string{"p50", "p90", "p99"} {
			if _, ok := lat[q].(float64); !ok {
				t.Fatalf("latency %v", lat)
			}
		}
		if up, ok := m["uptime_ns"].(float64); !ok || up <= 0 || up != float64(int64(up)) {
			t.Fatalf("uptime_ns %v", m["uptime_ns"])
		}
	})
	t.Run("46 stats errors", func(t *testing.T) {
		wantText(t, call(t, "GET", u+"/streams/nope/stats", ""), 404, "Stream not found")
		wantText(t, call(t, "POST", u+"/streams/s/stats", ""), 400, "Error: verb not supported: POST")
	})
	t.Run("47 metrics", func(t *testing.T) {
		r := call(t, "GET", u+"/metrics", "")
		if r.code != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
			t.Fatalf("%d %v", r.code, r.header)
		}
		found := false
		for _, l := range strings.Split(r.body, "\n") {
			if strings.HasPrefix(l, `input_received{label="",path="root.input",stream="s"} `) {
				found = true
			}
		}
		if !found {
			t.Fatalf("no input_received series in:\n%s", r.body)
		}
	})
	t.Run("48 ready", func(t *testing.T) {
		wantE200(t, call(t, "POST", u+"/streams/unready", "input:\n  socket:\n    network: tcp\n    address: 127.0.0.1:1\noutput:\n  drop: {}\n"))
		eventually(t, 5*time.Second, "unready not connected", func() bool {
			r := call(t, "GET", u+"/ready", "")
			return r.code == 503 && r.body == "streams unready are not connected\n"
		})
		wantE200(t, call(t, "POST", u+"/streams/unready2", fixtureStuck))
		eventually(t, 5*time.Second, "both not connected", func() bool {
			r := call(t, "GET", u+"/ready", "")
			return r.code == 503 && r.body == "streams unready, unready2 are not connected\n" &&
				r.header.Get("Content-Type") == "text/plain; charset=utf-8"
		})
		wantE200(t, call(t, "DELETE", u+"/streams/unready?timeout=1s", ""))
		wantE200(t, call(t, "DELETE", u+"/streams/unready2?timeout=1s", ""))
		if r := call(t, "GET", u+"/ready", ""); r.code != 200 || r.body != "OK" {
			t.Fatalf("%d %q", r.code, r.body)
		}
	})
	t.Run("49 finished", func(t *testing.T) {
		wantE200(t, call(t, "POST", u+"/streams/f3", fixtureF3))
		eventually(t, 5*time.Second, "f3 finished", func() bool { return getStream(t, u, "f3").State == "finished" })
		a := getStream(t, u, "f3")
		time.Sleep(200 * time.Millisecond)
		b := getStream(t, u, "f3")
		if a.Active || b.Active || a.Uptime != b.Uptime {
			t.Fatalf("%+v then %+v", a, b)
		}
		if r := call(t, "GET", u+"/ready", ""); r.code != 200 {
			t.Fatalf("ready %d %q", r.code, r.body)
		}
		wantText(t, call(t, "POST", u+"/streams/f3", fixtureF3), 400, "Stream already exists")
	})
	t.Run("50 resource cache", func(t *testing.T) {
		wantE200(t, call(t, "POST", u+"/resources/cache/rc1", "memory: {default_ttl: 60s}"))
		wantLint(t, call(t, "POST", u+"/resources/cache/rc2", "memory:\n  bogus: 1\n"), []string{"(2,1) field bogus not recognised"})
		wantE200(t, call(t, "POST", u+"/resources/cache/rc2?chilled=true", "memory:\n  bogus: 1\n"))
	})
	t.Run("51 resource lint and yaml", func(t *testing.T) {
		wantLint(t, call(t, "POST", u+"/resources/cache/rc3", "nonexistent_cache: {}"), []string{"(1,1) unable to infer component type"})
		wantText(t, call(t, "POST", u+"/resources/cache/rc4", "memory: ["), 400, "Error: yaml: line 1: did not find expected node content")
	})
	t.Run("52 resource type", func(t *testing.T) {
		msg := "Var `type` must be set to one of `cache`, `input`, `output`, `processor` or `rate_limit`"
		wantText(t, call(t, "POST", u+"/resources/bogus/x", "memory: {}"), 400, msg)
		wantText(t, call(t, "POST", u+"/resources/buffer/b1", "memory: {}"), 400, msg)
		wantText(t, call(t, "GET", u+"/resources/cache/rc1", ""), 400, "Error: verb not supported: GET")
	})
	t.Run("53 resource kinds", func(t *testing.T) {
		wantE200(t, call(t, "POST", u+"/resources/rate_limit/rl1", "local: {count: 10, interval: 1s}"))
		wantE200(t, call(t, "POST", u+"/resources/processor/p1", "mapping: root = content().uppercase()"))
		wantE200(t, call(t, "POST", u+"/resources/input/in1", "generate:\n  interval: 100ms\n  mapping: root = \"in1\"\n"))
		wantE200(t, call(t, "POST", u+"/resources/output/out1", "drop: {}"))
		body := "input:\n  resource: in1\npipeline:\n  processors:\n    - resource: p1\noutput:\n  resource: out1\n"
		wantE200(t, call(t, "POST", u+"/streams/usesres", body))
		if si := getStream(t, u, "usesres"); si.State != "running" {
			t.Fatalf("%+v", si)
		}
	})
	dir := t.TempDir()
	t.Run("54 shared cache", func(t *testing.T) {
		writer := "input:\n  generate:\n    count: 3\n    interval: \"\"\n    mapping: 'root = \"v%d\".format(counter())'\n" +
			"pipeline:\n  processors:\n    - cache:\n        resource: rc1\n        operator: set\n        key: ${! content() }\n        value: written-by-writer\noutput:\n  drop: {}\n"
		wantE200(t, call(t, "POST", u+"/streams/writer", writer))
		eventually(t, 5*time.Second, "writer finished", func() bool { return getStream(t, u, "writer").State == "finished" })
		out := filepath.Join(dir, "reader.txt")
		reader := "input:\n  generate:\n    count: 1\n    interval: \"\"\n    mapping: root = \"v2\"\n" +
			"pipeline:\n  processors:\n    - cache:\n        resource: rc1\n        operator: get\n        key: ${! content() }\n" +
			"output:\n  file:\n    path: " + out + "\n    codec: lines\n"
		wantE200(t, call(t, "POST", u+"/streams/reader", reader))
		eventually(t, 5*time.Second, "reader output", func() bool {
			l := fileLines(out)
			return len(l) == 1 && l[0] == "written-by-writer"
		})
	})
	t.Run("55 live swap", func(t *testing.T) {
		out := filepath.Join(dir, "watcher.txt")
		watcher := "input:\n  generate:\n    interval: 100ms\n    mapping: root = \"k\"\n" +
			"pipeline:\n  processors:\n    - cache:\n        resource: rc1\n        operator: get\n        key: k\n    - catch:\n        - mapping: root = \"miss\"\n" +
			"output:\n  file:\n    path: " + out + "\n    codec: lines\n"
		wantE200(t, call(t, "POST", u+"/streams/watcher", watcher))
		last := func() string {
			l := fileLines(out)
			if len(l) == 0 {
				return ""
			}
			return l[len(l)-1]
		}
		eventually(t, 5*time.Second, "watcher writes miss", func() bool { return last() == "miss" })
		setter := "input:\n  generate:\n    count: 1\n    interval: \"\"\n    mapping: root = \"one\"\n" +
			"pipeline:\n  processors:\n    - cache:\n        resource: rc1\n        operator: set\n        key: k\n        value: ${! content() }\noutput:\n  drop: {}\n"
		wantE200(t, call(t, "POST", u+"/streams/setter", setter))
		eventually(t, 5*time.Second, "watcher writes one", func() bool { return last() == "one" })
		before := getStream(t, u, "watcher").Uptime
		wantE200(t, call(t, "POST", u+"/resources/cache/rc1", "memory: {}"))
		eventually(t, time.Second, "watcher writes miss after swap", func() bool { return last() == "miss" })
		if after := getStream(t, u, "watcher"); after.Uptime < before || after.State != "running" {
			t.Fatalf("watcher restarted: %+v (before %v)", after, before)
		}
	})
	t.Run("56 restart", func(t *testing.T) {
		ts2 := startServer(t, nil)
		wantE200(t, call(t, "POST", ts2.URL+"/streams/s1", fixtureG))
		wantE200(t, call(t, "POST", ts2.URL+"/streams/s2", fixtureF3))
		wantE200(t, call(t, "POST", ts2.URL+"/streams/s3", fixtureG))
		wantE200(t, call(t, "POST", ts2.URL+"/resources/cache/rc1", "memory: {}"))
		wantE200(t, call(t, "PUT", ts2.URL+"/streams/s1", newG))
		wantE200(t, call(t, "DELETE", ts2.URL+"/streams/s3", ""))
		ts2.Restart(t)
		m := listStreams(t, ts2.URL)
		if len(m) != 2 || m["s1"] == nil || m["s2"] == nil {
			t.Fatalf("after restart: %v", m)
		}
		if si := getStream(t, ts2.URL, "s1"); !reflect.DeepEqual(si.Config, yamlValue(t, newG)) || si.State != "running" {
			t.Fatalf("s1 %+v", si)
		}
		eventually(t, 5*time.Second, "s2 ran again", func() bool { return getStream(t, ts2.URL, "s2").State == "finished" })
		user := "input:\n  generate:\n    interval: 1s\n    mapping: root = \"x\"\npipeline:\n  processors:\n    - cache:\n        resource: rc1\n        operator: get\n        key: k\n    - catch: []\noutput:\n  drop: {}\n"
		wantE200(t, call(t, "POST", ts2.URL+"/streams/user", user))
	})
	t.Run("57 crash", func(t *testing.T) {
		t.Skip("needs SIGKILL of a weir process: covered by cmd/weir's process tests (ops)")
	})
	t.Run("58 topics", func(t *testing.T) {
		tw := "input:\n  generate:\n    count: 3\n    interval: \"\"\n    mapping: 'root = {\"n\":counter()}'\n" +
			"pipeline:\n  processors:\n    - mapping: 'root.doubled = this.n * 2'\n    - mapping: 'meta k = \"v\"'\n" +
			"output:\n  weir:\n    topic: t1\n    partition_key: ${! this.n }\n"
		wantE200(t, call(t, "POST", u+"/streams/tw", tw))
		out := filepath.Join(dir, "tr.txt")
		tr := "input:\n  weir:\n    topic: t1\n    group: g1\n    start_from: earliest\npipeline:\n  processors:\n    - mapping: root = @\n" +
			"output:\n  file:\n    path: " + out + "\n    codec: lines\n"
		wantE200(t, call(t, "POST", u+"/streams/tr", tr))
		eventually(t, 10*time.Second, "tr writes 3 lines", func() bool { return len(fileLines(out)) == 3 })
		for _, l := range fileLines(out) {
			var m map[string]string
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("%q: %v", l, err)
			}
			if m["weir_topic"] != "t1" || m["k"] != "v" || !isDecimal(m["weir_partition"]) || !isDecimal(m["weir_offset"]) || !isDecimal(m["weir_timestamp_unix_ms"]) {
				t.Fatalf("metadata %v", m)
			}
		}
		wantE200(t, call(t, "DELETE", u+"/streams/tr", ""))
		wantE200(t, call(t, "POST", u+"/streams/tr", tr))
		// A marker produced now is the only new line the re-created stream
		// writes: the first three were committed.
		if _, err := ts.Engine.Produce(context.Background(), config.ProduceRequest{
			Namespace: "default", Topic: "t1", Messages: []config.Message{{Headers: map[string]string{"k": "marker"}, Body: []byte(`{}`)}},
		}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, "marker line", func() bool { return len(fileLines(out)) >= 4 })
		lines := fileLines(out)
		if len(lines) != 4 || !strings.Contains(lines[3], `"k":"marker"`) {
			t.Fatalf("lines after re-create: %q", lines)
		}
	})
	t.Run("59 weir input lint", func(t *testing.T) {
		r := call(t, "POST", u+"/streams/wbad", "input:\n  weir:\n    topic: t1\n    start_from: bogus\noutput:\n  drop: {}\n")
		if r.code != 400 {
			t.Fatalf("%d %q", r.code, r.body)
		}
		l := lintEntries(t, call(t, "POST", u+"/streams/wbad", "input:\n  weir:\n    topic: t1\n    wat: 1\noutput:\n  drop: {}\n"))
		if len(l) != 1 || l[0] != "(4,1) field wat not recognised" {
			t.Fatalf("lints %q", l)
		}
		wantE200(t, call(t, "POST", u+"/streams/wbad?chilled=true", "input:\n  weir:\n    topic: t1\n    wat: 1\noutput:\n  drop: {}\n"))
		// A topic name weir refuses is not a lint error: the stream is
		// created and reports not connected (3k "Both").
		wantE200(t, call(t, "POST", u+"/streams/wname", "input:\n  weir:\n    topic: 'bad topic/../x'\noutput:\n  drop: {}\n"))
		eventually(t, 5*time.Second, "wname not connected", func() bool {
			r := call(t, "GET", u+"/ready", "")
			return r.code == 503 && strings.Contains(r.body, "wname")
		})
		wantE200(t, call(t, "DELETE", u+"/streams/wname?timeout=1s", ""))
	})
	t.Run("60 stream endpoint", func(t *testing.T) {
		wantE200(t, call(t, "POST", u+"/streams/hook", "input:\n  http_server:\n    path: /post\noutput:\n  weir:\n    topic: hooked\n"))
		if r := call(t, "POST", u+"/hook/post", "hi"); r.code != 200 {
			t.Fatalf("%d %q", r.code, r.body)
		}
		eventually(t, 5*time.Second, "hi in hooked", func() bool {
			return len(readTopic(t, ts, "default", "hooked")) == 1
		})
		if ev := readTopic(t, ts, "default", "hooked"); string(ev[0].Body) != "hi" {
			t.Fatalf("events %v", ev)
		}
	})
	t.Run("61 endpoint gone", func(t *testing.T) {
		wantE200(t, call(t, "DELETE", u+"/streams/hook", ""))
		if r := call(t, "POST", u+"/hook/post", "hi"); r.code != 404 {
			t.Fatalf("%d %q", r.code, r.body)
		}
	})
}

func setBody(m map[string]string) string {
	var b strings.Builder
	for id, cfg := range m {
		fmt.Fprintf(&b, "%s:\n", id)
		for _, l := range strings.Split(strings.TrimRight(cfg, "\n"), "\n") {
			b.WriteString("  " + l + "\n")
		}
	}
	return b.String()
}

func isDecimal(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// readTopic reads every event of a topic through the engine.
func readTopic(t testing.TB, ts *testServer, ns, topic string) []config.Event {
	t.Helper()
	ctx := context.Background()
	info, err := ts.Engine.GetTopic(ctx, ns, topic)
	if err != nil {
		return nil
	}
	var out []config.Event
	for _, p := range info.Partitions {
		off := p.FirstOffset
		for {
			res, err := ts.Engine.Fetch(ctx, ns, topic, p.Partition, off, 1000, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Events) == 0 {
				break
			}
			out = append(out, res.Events...)
			off = res.Events[len(res.Events)-1].Offset + 1
		}
	}
	return out
}
