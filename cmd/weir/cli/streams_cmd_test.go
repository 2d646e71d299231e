package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLintCommand(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.yaml", "input:\n  generate:\n    interval: 1s\n    mapping: root =\n    nope: true\noutput:\n  drop: {}\n")
	good := writeFile(t, dir, "good.yaml", "input:\n  generate:\n    mapping: root = 1\noutput:\n  drop: {}\n")
	var out, errb bytes.Buffer
	code := Run(context.Background(), []string{"weir", "lint", good, bad}, &out, &errb)
	want := bad + "(4,21) expected whitespace, but reached end of input\n" + bad + "(5,1) field nope not recognised\n"
	if code != 1 || out.String() != want {
		t.Fatalf("exit %d, stdout %q (want %q), stderr %q", code, out.String(), want, errb.String())
	}
	out.Reset()
	if code := Run(context.Background(), []string{"weir", "lint", good}, &out, &errb); code != 0 || out.Len() != 0 {
		t.Fatalf("clean file: exit %d, %q", code, out.String())
	}
}

func TestRunCommand(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	p := writeFile(t, dir, "three.yaml", "input:\n  generate:\n    count: 3\n    interval: \"\"\n    mapping: 'root = \"n%d\".format(counter())'\n"+
		"output:\n  file:\n    path: "+out+"\n    codec: lines\n")
	var so, se bytes.Buffer
	code := Run(context.Background(), []string{"weir", "run", "--addr", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"), "--log-level", "warn", p}, &so, &se)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	b, err := os.ReadFile(out)
	if err != nil || string(b) != "n1\nn2\nn3\n" {
		t.Fatalf("output %q %v", b, err)
	}
	// weir run stores nothing.
	if _, err := os.Stat(filepath.Join(dir, "data", "streams", "state.json")); !os.IsNotExist(err) {
		t.Fatalf("state stored: %v", err)
	}
	bad := writeFile(t, dir, "bad.yaml", "input:\n  generate:\n    mapping: root = 1\n    nope: 1\n")
	se.Reset()
	if code := Run(context.Background(), []string{"weir", "run", "--addr", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"), bad}, &so, &se); code != 1 ||
		!strings.Contains(se.String(), bad+"(4,1) field nope not recognised") {
		t.Fatalf("bad pipeline: exit %d, %q", code, se.String())
	}
}

func TestStreamsCommandReplacesStoredSet(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	a := writeFile(t, dir, "alpha.yaml", "input:\n  generate:\n    interval: 100ms\n    mapping: root = \"a\"\noutput:\n  drop: {}\n")
	state := filepath.Join(data, "streams", "state.json")
	run := func(files ...string) (string, int) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan int, 1)
		var se bytes.Buffer
		args := append([]string{"weir", "streams", "--addr", "127.0.0.1:0", "--data-dir", data, "--log-level", "warn"}, files...)
		go func() { done <- Run(ctx, args, &bytes.Buffer{}, &se) }()
		deadline := time.Now().Add(20 * time.Second)
		var st []byte
		for {
			st, _ = os.ReadFile(state)
			if len(files) == 0 || strings.Contains(string(st), `"id": "alpha"`) || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		code := <-done
		if code != 0 {
			t.Fatalf("exit %d: %s", code, se.String())
		}
		st, _ = os.ReadFile(state)
		return string(st), code
	}
	st, _ := run(a)
	if !strings.Contains(st, `"id": "alpha"`) || !strings.Contains(st, `root = \"a\"`) {
		t.Fatalf("state after files: %s", st)
	}
	// Without files the stored set stays.
	if st2, _ := run(); st2 != st {
		t.Fatalf("state changed without files: %s", st2)
	}
}
