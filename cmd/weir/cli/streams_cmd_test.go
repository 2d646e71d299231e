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

// TestLintCommand pins `weir lint` to what `benthos lint` v4.27.0 prints for
// the same files: findings on stderr only, as file(line,col) message, in
// file order, exit 1 when there are any.
func TestLintCommand(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("WEIR_T_LINT_UNSET", "x")
	if err := os.Unsetenv("WEIR_T_LINT_UNSET"); err != nil {
		t.Fatal(err)
	}
	bad := writeFile(t, dir, "bad.yaml", "input:\n  generate:\n    interval: 1s\n    mapping: root =\n    nope: true\noutput:\n  drop: {}\n")
	good := writeFile(t, dir, "good.yaml", "input:\n  generate:\n    mapping: root = 1\noutput:\n  drop: {}\n")
	yamlErr := writeFile(t, dir, "yamlerr.yaml", "input: [\n")
	parse := writeFile(t, dir, "parse.yaml", "input:\n  not_real: {}\noutput:\n  drop: {}\n")
	env := writeFile(t, dir, "env.yaml", "input:\n  generate:\n    mapping: root = \"${WEIR_T_LINT_UNSET}\"\noutput:\n  drop: {}\n")
	disabled := writeFile(t, dir, "disabled.yaml", "# BENTHOS LINT DISABLE\ninput:\n  generate:\n    mapping: root = 1\n    nope: 1\n")
	missing := filepath.Join(dir, "missing.yaml")
	cases := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{good}, 0, ""},
		{[]string{good, bad}, 1, bad + "(4,21) expected whitespace, but reached end of input\n" + bad + "(5,1) field nope not recognised\n"},
		{[]string{yamlErr}, 1, yamlErr + "(1,1) yaml: line 1: did not find expected node content\n"},
		{[]string{parse}, 1, parse + "(2,1) unable to infer input type from candidates: [not_real]\n"},
		{[]string{env}, 1, env + "(1,1) required environment variables were not set: [WEIR_T_LINT_UNSET]\n"},
		{[]string{"--skip-env-var-check", env}, 0, ""},
		{[]string{disabled}, 0, ""},
		{[]string{missing}, 1, missing + "(1,1) open " + missing + ": no such file or directory\n"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := Run(context.Background(), append([]string{"weir", "lint"}, c.args...), &out, &errb)
		if code != c.code || out.Len() != 0 || errb.String() != c.stderr {
			t.Errorf("lint %v: exit %d, stdout %q, stderr %q; want exit %d, stderr %q", c.args, code, out.String(), errb.String(), c.code, c.stderr)
		}
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
