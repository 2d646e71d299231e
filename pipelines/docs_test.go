package pipelines

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"
)

var update = flag.Bool("update", false, "rewrite generated docs and golden files")

// The committed docs of the built-in weir components must match what their
// config specs render; `go generate ./pipelines` (or -update) rewrites them.
func TestComponentDocs(t *testing.T) {
	env, err := NewEnvironment(Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	docs, err := env.ComponentDocs()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("..", "docs", "components")
	for name, want := range docs {
		path := filepath.Join(dir, name)
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%s: %v (run go generate ./pipelines)", path, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run go generate ./pipelines", path)
		}
	}
}
