package reverse_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"

	_ "github.com/weirflow/weir/examples/plugin/reverse" // registers "reverse"
	"github.com/weirflow/weir/pipelines"
)

// Run a stream that uses the plugin, exactly as weir runs streams.
func Example() {
	env, err := pipelines.NewEnvironment(pipelines.Options{Logger: zerolog.Nop()})
	if err != nil {
		panic(err)
	}
	dir, err := os.MkdirTemp("", "reverse-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "out.txt")
	prepared, err := env.CheckStream([]byte(`
input:
  generate:
    count: 1
    interval: ""
    mapping: root = "hello weir"
pipeline:
  processors:
    - reverse:
        upper: true
output:
  file:
    path: `+out+`
    codec: lines
`), false)
	if err != nil {
		panic(err)
	}
	run, err := env.Start(pipelines.StartOptions{ID: "example", Stream: prepared})
	if err != nil {
		panic(err)
	}
	<-run.Ended() // the input ends after one message
	run.Stop(5 * time.Second)
	b, err := os.ReadFile(out)
	if err != nil {
		panic(err)
	}
	fmt.Print(string(b))
	// Output: RIEW OLLEH
}
