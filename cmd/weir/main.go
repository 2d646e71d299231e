// Command weir is the weir binary: durable partitioned topics, Benthos
// streams and three REST API families in one process. All of its behaviour
// lives in package cli so a plugin author's own main can be this same line
// plus the blank import of their plugin package.
package main

import (
	"os"

	"github.com/weirflow/weir/cmd/weir/cli"
)

func main() { os.Exit(cli.Main(os.Args)) }
