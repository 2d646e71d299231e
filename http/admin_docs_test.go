package http_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The API pages in docs/ are curl walkthroughs. This test runs each page
// against a fresh weir: every line of a ```sh block runs in bash with WEIR
// set to the server, and the block's output must match the ```output block that follows it,
// where … stands for any text within a line (ids, times, sizes).

type docStep struct {
	line   int
	script string
	want   string
	check  bool
}

func parseWalkthrough(t *testing.T, path string) []docStep {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var steps []docStep
	var cur *strings.Builder
	kind, start := "", 0
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "```"):
			kind, start, cur = strings.TrimPrefix(line, "```"), n, &strings.Builder{}
		case cur != nil && line == "```":
			switch kind {
			case "sh":
				steps = append(steps, docStep{line: start, script: cur.String()})
			case "output":
				if len(steps) == 0 || steps[len(steps)-1].check {
					t.Fatalf("%s:%d: an output block must follow a sh block", path, start)
				}
				steps[len(steps)-1].want, steps[len(steps)-1].check = cur.String(), true
			}
			cur = nil
		case cur != nil:
			cur.WriteString(line + "\n")
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return steps
}

// wildcard turns an expected output into a regexp where … matches any run
// of characters within one line.
func wildcard(want string) *regexp.Regexp {
	parts := strings.Split(want, "…")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile(`^` + strings.Join(parts, `[^\n]*?`) + `$`)
}

func TestDocsWalkthroughs(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	pages, err := filepath.Glob(filepath.Join("..", "docs", "api-*.md"))
	if err != nil || len(pages) == 0 {
		t.Fatalf("no docs/api-*.md pages (%v)", err)
	}
	for _, page := range pages {
		t.Run(filepath.Base(page), func(t *testing.T) {
			ts := startServer(t, nil)
			for _, s := range parseWalkthrough(t, page) {
				if strings.TrimSpace(s.script) == "WEIR=http://127.0.0.1:4195" {
					continue // the reader's setup line; the test sets WEIR itself
				}
				// Each line is one command, as typed at a prompt: its output
				// ends with a newline even when the answer has none.
				var stdout bytes.Buffer
				for _, line := range strings.Split(strings.TrimSpace(s.script), "\n") {
					cmd := exec.Command("bash", "-euo", "pipefail", "-c", line)
					cmd.Env = append(os.Environ(), "WEIR="+ts.URL)
					var out, stderr bytes.Buffer
					cmd.Stdout, cmd.Stderr = &out, &stderr
					if err := cmd.Run(); err != nil || stderr.Len() > 0 {
						t.Fatalf("%s:%d: %v\n%s\nstderr: %s", page, s.line, err, line, stderr.String())
					}
					stdout.Write(out.Bytes())
					if out.Len() > 0 && !bytes.HasSuffix(out.Bytes(), []byte("\n")) {
						stdout.WriteByte('\n')
					}
				}
				if s.check && !wildcard(s.want).MatchString(stdout.String()) {
					t.Errorf("%s:%d: output differs\n--- script\n%s--- got\n%s--- want\n%s", page, s.line, s.script, stdout.String(), s.want)
				}
			}
		})
	}
}
