package actors

import (
	"context"
	"fmt"
	"sync"

	"github.com/weirflow/weir/config"
)

// asyncQueues hold ProduceAsync requests in memory, FIFO per topic, bounded
// by a shared budget of events (cdap.async_queue_size). One writer goroutine
// per non-empty topic queue sends everything queued at once (the topic actor
// stamps them in mailbox order, so FIFO holds) and waits for the acks.
type asyncQueues struct {
	e        *Engine
	capacity int

	mu      sync.Mutex
	used    int
	room    chan struct{} // closed and replaced whenever room is freed
	queues  map[string][]config.ProduceRequest
	running map[string]bool
	closed  bool
	wg      sync.WaitGroup
}

func newAsyncQueues(e *Engine, capacity int) *asyncQueues {
	return &asyncQueues{e: e, capacity: capacity, room: make(chan struct{}),
		queues: map[string][]config.ProduceRequest{}, running: map[string]bool{}}
}

func (q *asyncQueues) enqueue(ctx context.Context, req config.ProduceRequest) error {
	n := len(req.Messages)
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return fmt.Errorf("%w: engine is stopping", config.ErrUnavailable)
		}
		// A request larger than the whole budget still goes in when the
		// queue is empty, so it cannot wait forever.
		if q.used+n <= q.capacity || q.used == 0 {
			break
		}
		room := q.room
		q.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return fmt.Errorf("%w: async queue of %d events is full", config.ErrBusy, q.capacity)
		}
	}
	defer q.mu.Unlock()
	q.used += n
	key := nsKey(req.Namespace, req.Topic)
	q.queues[key] = append(q.queues[key], req)
	if !q.running[key] {
		q.running[key] = true
		q.wg.Add(1)
		go q.write(key)
	}
	return nil
}

func (q *asyncQueues) write(key string) {
	defer q.wg.Done()
	for {
		q.mu.Lock()
		batch := q.queues[key]
		delete(q.queues, key)
		if len(batch) == 0 {
			delete(q.running, key)
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
		q.send(batch)
		freed := 0
		for _, r := range batch {
			freed += len(r.Messages)
		}
		q.mu.Lock()
		q.used -= freed
		close(q.room)
		q.room = make(chan struct{})
		q.mu.Unlock()
	}
}

// send issues every request without waiting in between, then collects the
// answers. Failures are logged: async producers were answered already.
func (q *asyncQueues) send(batch []config.ProduceRequest) {
	e := q.e
	type pending struct {
		req config.ProduceRequest
		res chan error
	}
	ps := make([]pending, len(batch))
	for i, req := range batch {
		ps[i] = pending{req: req, res: make(chan error, 1)}
		f := e.system.Root.RequestFuture(e.manager, &produceReq{Req: req}, e.sh.reqTimeout)
		go func(ch chan error) {
			res, err := f.Result()
			if err == nil {
				err = replyErr(res)
			}
			ch <- mapActorErr(err, "async produce")
		}(ps[i].res)
	}
	for _, p := range ps {
		if err := <-p.res; err != nil {
			e.sh.log.Error().Err(err).Str("namespace", p.req.Namespace).Str("topic", p.req.Topic).
				Int("events", len(p.req.Messages)).Msg("async produce failed; events lost")
		}
	}
}

// drain refuses new requests and waits until everything queued is written.
func (q *asyncQueues) drain(ctx context.Context) error {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	done := make(chan struct{})
	go func() { q.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: draining async queues: %v", config.ErrTimeout, ctx.Err())
	}
}
