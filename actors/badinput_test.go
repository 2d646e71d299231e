package actors

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weirflow/weir/config"
)

func TestInvalidNamesBuildNoPath(t *testing.T) {
	dir := t.TempDir()
	e := startEngine(t, testConfig(dir))
	ctx := tctx(t)
	before := listTree(t, dir)
	badTopics := []string{"", ".", "..", "../x", "a/b", "a\\b", "sp ace", strings.Repeat("x", 256), "nul\x00"}
	badNS := []string{"", "a-b", "a.b", "../x", "a/b"}
	for _, bt := range badTopics {
		checks := map[string]error{}
		_, _, checks["create"] = e.CreateTopic(ctx, "default", bt, config.DefaultTopicProps())
		_, checks["produce"] = e.Produce(ctx, config.ProduceRequest{Namespace: "default", Topic: bt, CreateTopic: true, Messages: msgs("x", 1)})
		checks["async"] = e.ProduceAsync(ctx, config.ProduceRequest{Namespace: "default", Topic: bt, CreateTopic: true, Messages: msgs("x", 1)})
		_, checks["read"] = e.ReadRange(ctx, "default", bt, 0, 10, 1)
		_, checks["fetch"] = e.Fetch(ctx, "default", bt, 0, 0, 1, 1)
		checks["delete"] = e.DeleteTopic(ctx, "default", bt)
		checks["truncate"] = e.TruncateTopic(ctx, "default", bt)
		_, checks["join"] = e.JoinGroup(ctx, config.JoinRequest{Namespace: "default", Group: "g", Member: "m", Topics: []string{bt}, CreateTopics: true})
		if config.ValidateGroup(bt) != nil { // group names are text; see below
			_, checks["join-group"] = e.JoinGroup(ctx, config.JoinRequest{Namespace: "default", Group: bt, Member: "m", Topics: []string{"ok"}, CreateTopics: true})
		}
		for what, err := range checks {
			if !errors.Is(err, config.ErrInvalidName) {
				t.Errorf("%s with topic/group %q: %v, want ErrInvalidName", what, bt, err)
			}
		}
	}
	for _, bn := range badNS {
		if _, err := e.CreateNamespace(ctx, bn, ""); !errors.Is(err, config.ErrInvalidName) {
			t.Errorf("create namespace %q: %v", bn, err)
		}
		if _, _, err := e.CreateTopic(ctx, bn, "t", config.DefaultTopicProps()); !errors.Is(err, config.ErrInvalidName) {
			t.Errorf("create topic in namespace %q: %v", bn, err)
		}
	}
	if after := listTree(t, dir); strings.Join(before, "\n") != strings.Join(after, "\n") {
		t.Fatalf("invalid names changed the data directory:\nbefore %v\nafter  %v", before, after)
	}
	// Group names that would be dangerous as paths are valid group names:
	// a group's directory is named by its id, so they land in groups/ only.
	for i, g := range []string{".", "..", "../x", "a/b", "a\\b", "sp ace"} {
		member := fmt.Sprintf("m%d", i)
		if _, err := e.JoinGroup(ctx, config.JoinRequest{Namespace: "default", Group: g, Member: member, Topics: []string{"ok"}, CreateTopics: true}); err != nil {
			t.Fatalf("join group %q: %v", g, err)
		}
	}
	for _, p := range listTree(t, dir) {
		rel, err := filepath.Rel(dir, p)
		if err != nil || !(slices.Contains(before, p) || strings.HasPrefix(rel, "topics") || strings.HasPrefix(rel, "groups")) {
			t.Errorf("joins made directory %s outside topics/ and groups/", p)
		}
		if rel == "groups" {
			continue
		}
		if strings.HasPrefix(rel, "groups"+string(filepath.Separator)) && strings.Count(rel, string(filepath.Separator)) != 1 {
			t.Errorf("group directory %s is not one level under groups/", p)
		}
	}
}

func listTree(t *testing.T, dir string) []string {
	var out []string
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func TestDataDirLockedAndUnwritable(t *testing.T) {
	dir := t.TempDir()
	e := startEngine(t, testConfig(dir))
	_, err := Start(Options{Config: testConfig(dir), Logger: testLogger(t)})
	if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("second Start on a locked directory: %v", err)
	}
	// Another process is refused too (flock is per open file, so this is
	// the same check; the helper runs this test binary).
	if os.Getenv("WEIR_LOCK_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestLockChild$")
		cmd.Env = append(os.Environ(), "WEIR_LOCK_CHILD="+dir)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "refused as expected") {
			t.Fatalf("child process was not refused: %v\n%s", err, out)
		}
	}
	stopEngine(t, e)
	// Released after Stop.
	e2 := startEngine(t, testConfig(dir))
	stopEngine(t, e2)

	file := filepath.Join(t.TempDir(), "plain-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(file, "data")
	if _, err := Start(Options{Config: testConfig(bad), Logger: testLogger(t)}); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("Start under a file: %v", err)
	}
	ro := t.TempDir()
	if os.Geteuid() == 0 {
		// Permissions do not stop root: use a read-only mount instead.
		if err := exec.Command("mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", ro).Run(); err != nil {
			t.Skipf("cannot mount a read-only tmpfs: %v", err)
		}
		defer exec.Command("umount", ro).Run()
	} else if err := os.Chmod(ro, 0o500); err != nil {
		t.Fatal(err)
	}
	if _, err := Start(Options{Config: testConfig(ro), Logger: testLogger(t)}); err == nil || !strings.Contains(err.Error(), "not writable") || !strings.Contains(err.Error(), ro) {
		t.Fatalf("Start on a read-only directory: %v", err)
	}
}

func TestLockChild(t *testing.T) {
	dir := os.Getenv("WEIR_LOCK_CHILD")
	if dir == "" {
		t.Skip("helper for TestDataDirLockedAndUnwritable")
	}
	_, err := Start(Options{Config: testConfig(dir), Logger: testLogger(t)})
	if err == nil || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("not refused: %v", err)
	}
	t.Log("refused as expected")
	os.Stdout.WriteString("refused as expected\n")
}

// A full disk: produce fails without an ack, nothing acknowledged is lost,
// and the partition works again once space returns.
func TestFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	mnt := t.TempDir()
	if err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt).Run(); err != nil {
		t.Skipf("cannot mount tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", mnt).Run() })
	filler := filepath.Join(mnt, "filler")
	if err := os.WriteFile(filler, make([]byte, 256*1024), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(filepath.Join(mnt, "data"))
	cfg.Storage.SegmentSize = 32 * config.KiB
	e := startEngine(t, cfg)
	ctx := tctx(t)
	if _, _, err := e.CreateTopic(ctx, "default", "t", config.TopicProps{Partitions: 1, TTLMillis: config.TTLForever}); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, 4000)
	var acked []int64
	var full error
	for i := 0; i < 1000; i++ {
		body[0] = byte(i)
		r, err := e.Produce(ctx, config.ProduceRequest{Namespace: "default", Topic: "t", Messages: []config.Message{{Body: append([]byte(nil), body...)}}})
		if err != nil {
			full = err
			break
		}
		acked = append(acked, r.FirstOffset)
	}
	if !errors.Is(full, config.ErrStorage) {
		t.Fatalf("filling the disk ended with %v after %d acks, want ErrStorage", full, len(acked))
	}
	// Still full: still refused, and no ack.
	if _, err := e.Produce(ctx, config.ProduceRequest{Namespace: "default", Topic: "t", Messages: []config.Message{{Body: body}}}); err == nil {
		t.Fatal("produce acknowledged on a full disk")
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	var r config.ProduceResult
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if r, err = e.Produce(ctx, config.ProduceRequest{Namespace: "default", Topic: "t", Messages: []config.Message{{Body: []byte("after")}}}); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("partition did not recover when space returned: %v", err)
	}
	if r.FirstOffset < int64(len(acked)) {
		t.Fatalf("offset %d reused (had %d acks)", r.FirstOffset, len(acked))
	}
	checkAcked := func(e *Engine) {
		for i, off := range acked {
			fr, err := e.Fetch(tctx(t), "default", "t", 0, off, 1, 0)
			if err != nil || len(fr.Events) != 1 || fr.Events[0].Offset != off || fr.Events[0].Body[0] != byte(i) || len(fr.Events[0].Body) != 4000 {
				t.Fatalf("acked event %d at offset %d: %+v, %v", i, off, fr.Events, err)
			}
		}
	}
	checkAcked(e)
	stopEngine(t, e)
	e2 := startEngine(t, cfg)
	checkAcked(e2)
	stopEngine(t, e2)
}
