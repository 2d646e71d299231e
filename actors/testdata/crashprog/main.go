// Command crashprog produces through a real actors.Engine and prints every
// acknowledged request to stdout, one line each, so that TestCrashSafety can
// SIGKILL it at random moments and check that nothing acknowledged was lost.
//
// Usage: crashprog DATA_DIR WORKERS
//
// Output lines: "ready", then "ack <partition> <first offset> <body>|<body>…".
// Bodies are "<run>/<worker>/<seq>/<i>/<n>": event i of an n-event request.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/weirflow/weir/actors"
	"github.com/weirflow/weir/config"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: crashprog DATA_DIR WORKERS")
		os.Exit(2)
	}
	workers, _ := strconv.Atoi(os.Args[2])
	cfg := config.Default()
	cfg.Storage.DataDir = os.Args[1]
	cfg.Storage.SegmentSize = 16 * config.KiB // many segment rolls
	e, err := actors.Start(actors.Options{Config: cfg, Logger: zerolog.New(os.Stderr).Level(zerolog.WarnLevel)})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start:", err)
		os.Exit(1)
	}
	ctx := context.Background()
	if _, _, err := e.CreateTopic(ctx, "default", "crash", config.TopicProps{Partitions: 3, TTLMillis: config.TTLForever}); err != nil {
		fmt.Fprintln(os.Stderr, "create topic:", err)
		os.Exit(1)
	}
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	var mu sync.Mutex
	emit := func(line string) {
		mu.Lock()
		os.Stdout.WriteString(line) // one write per line: killed between lines, never mid-line
		mu.Unlock()
	}
	emit("ready\n")
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := 0; ; seq++ {
				n := 1 + (seq+w)%3
				ms := make([]config.Message, n)
				bodies := make([]string, n)
				for i := range ms {
					bodies[i] = fmt.Sprintf("%s/%d/%d/%d/%d", run, w, seq, i, n)
					// Padding makes segments roll often.
					ms[i] = config.Message{Body: []byte(bodies[i] + "#" + strings.Repeat("p", 200))}
				}
				r, err := e.Produce(ctx, config.ProduceRequest{Namespace: "default", Topic: "crash", Messages: ms})
				if err != nil {
					fmt.Fprintln(os.Stderr, "produce:", err)
					continue
				}
				emit(fmt.Sprintf("ack %d %d %s\n", r.Partition, r.FirstOffset, strings.Join(bodies, "|")))
			}
		}()
	}
	wg.Wait()
}
