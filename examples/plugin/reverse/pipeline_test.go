package reverse_test

import (
	"os"
	"testing"

	"github.com/rs/zerolog"

	"github.com/weirflow/weir/pipelines"
)

// The tutorial's pipeline (examples/plugin/pipeline.yaml) lints and parses
// with the plugin registered, as `go run ./examples/plugin run` needs; the
// configs directly under examples/ are checked by examples_test.go, which
// cannot see this one (it uses the plugin).
func TestPipelineYAMLChecks(t *testing.T) {
	env, err := pipelines.NewEnvironment(pipelines.Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("../pipeline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lints, err := env.LintPipeline(b)
	if err != nil || len(lints) > 0 {
		t.Fatalf("lint: %v %v", lints, err)
	}
	if _, err := env.ParsePipeline(b); err != nil {
		t.Fatal(err)
	}
}
