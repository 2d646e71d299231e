package actors

import (
	"bufio"
	"fmt"
	"math/rand"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCrashSafety kills a producing process with SIGKILL at random moments,
// again and again on the same data directory, and checks that every
// acknowledged event is present and unchanged, in order per partition, that
// offsets are never handed out twice, that no request was half written, and
// that the directory always reopens.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a child process")
	}
	bin := filepath.Join(t.TempDir(), "crashprog")
	build := exec.Command("go", "build", "-o", bin, "./testdata/crashprog")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build crashprog: %v\n%s", err, out)
	}
	dir := t.TempDir()
	type ack struct {
		body string
		run  int
	}
	acked := map[[2]int64]ack{} // (partition, offset) → body
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	const runs = 24
	total := 0
	for run := 0; run < runs; run++ {
		cmd := exec.Command(bin, dir, strconv.Itoa(1+rng.Intn(16)))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1<<16)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Most runs are killed while producing; some during start-up.
		var delay time.Duration
		ready := false
		if rng.Intn(5) == 0 {
			delay = time.Duration(rng.Intn(60)) * time.Millisecond
		} else {
			select {
			case l, ok := <-lines:
				if !ok || l != "ready" {
					_ = cmd.Process.Kill()
					_ = cmd.Wait()
					t.Fatalf("run %d: data directory did not reopen: %q\n%s", run, l, stderr.String())
				}
				ready = true
			case <-time.After(20 * time.Second):
				t.Fatalf("run %d: no ready line", run)
			}
			delay = time.Duration(20+rng.Intn(200)) * time.Millisecond
		}
		time.Sleep(delay) // the random moment of the kill
		_ = cmd.Process.Signal(syscall.SIGKILL)
		n := 0
		for l := range lines {
			if l == "ready" {
				ready = true
				continue
			}
			f := strings.Fields(l)
			if len(f) != 4 || f[0] != "ack" {
				t.Fatalf("run %d: bad line %q", run, l)
			}
			p, _ := strconv.ParseInt(f[1], 10, 64)
			off, _ := strconv.ParseInt(f[2], 10, 64)
			for i, b := range strings.Split(f[3], "|") {
				k := [2]int64{p, off + int64(i)}
				if prev, dup := acked[k]; dup {
					t.Fatalf("run %d: partition %d offset %d acknowledged twice: %q (run %d) and %q", run, p, off+int64(i), prev.body, prev.run, b)
				}
				acked[k] = ack{body: b, run: run}
				n++
			}
		}
		_ = cmd.Wait()
		if ready && strings.Contains(stderr.String(), "start:") {
			t.Fatalf("run %d: %s", run, stderr.String())
		}
		total += n
	}
	if total < 100 {
		t.Fatalf("only %d acknowledged events over %d runs; the test proves little", total, runs)
	}

	e := startEngine(t, testConfig(dir))
	stored := map[[2]int64]string{}
	for p := 0; p < 3; p++ {
		var next int64
		for {
			fr, err := e.Fetch(tctx(t), "default", "crash", p, next, 1000, 0)
			if err != nil {
				t.Fatalf("fetch partition %d at %d: %v", p, next, err)
			}
			if len(fr.Events) == 0 {
				break
			}
			for _, ev := range fr.Events {
				if ev.Offset != next {
					t.Fatalf("partition %d: offset %d where %d was expected (gap or repeat)", p, ev.Offset, next)
				}
				body, _, _ := strings.Cut(string(ev.Body), "#")
				stored[[2]int64{int64(p), ev.Offset}] = body
				next++
			}
		}
	}
	for k, a := range acked {
		got, ok := stored[k]
		if !ok {
			t.Fatalf("acknowledged event lost: partition %d offset %d (%q, run %d)", k[0], k[1], a.body, a.run)
		}
		if got != a.body {
			t.Fatalf("partition %d offset %d changed: acked %q, stored %q", k[0], k[1], a.body, got)
		}
	}
	// No request is half written: every stored event's request is complete
	// and consecutive in one partition.
	for k, body := range stored {
		parts := strings.Split(body, "/")
		if len(parts) != 5 {
			t.Fatalf("malformed stored body %q", body)
		}
		i, _ := strconv.Atoi(parts[3])
		n, _ := strconv.Atoi(parts[4])
		prefix := strings.Join(parts[:3], "/")
		for j := 0; j < n; j++ {
			want := fmt.Sprintf("%s/%d/%d", prefix, j, n)
			if got := stored[[2]int64{k[0], k[1] - int64(i) + int64(j)}]; got != want {
				t.Fatalf("request %s is torn: event %d of %d at offset %d is %q", prefix, j, n, k[1]-int64(i)+int64(j), got)
			}
		}
	}
	t.Logf("%d runs, %d acknowledged events, %d stored events", runs, total, len(stored))
}
