package examples

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"github.com/weirflow/weir/pipelines"
)

// Every example config lints and parses cleanly.
func TestExampleConfigsLint(t *testing.T) {
	env, err := pipelines.NewEnvironment(pipelines.Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := env.CheckStream(b, false); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
