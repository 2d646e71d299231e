// Command weir-reverse is a custom weir binary: weir plus the example
// "reverse" processor. Everything weir does (serve, run, streams, lint, …)
// works the same; pipelines may now use `reverse`.
//
//	go build -o weir-reverse ./examples/plugin
//	./weir-reverse run examples/plugin/pipeline.yaml
package main

import (
	"os"

	"github.com/weirflow/weir/cmd/weir/cli"
	_ "github.com/weirflow/weir/examples/plugin/reverse" // registers the plugin
)

func main() { os.Exit(cli.Main(os.Args)) }
