package actors

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/weirflow/weir/config"
	"github.com/weirflow/weir/pipelines"
)

// Restart policy after a plugin panic: exponential backoff from
// panicBackoffBase, and the stream is marked failed once maxPanicRestarts
// restarts did not help.
const (
	maxPanicRestarts = 5
	panicBackoffBase = 100 * time.Millisecond
	panicBackoffMax  = 5 * time.Second
)

// streamView is what readers see of a stream, published atomically by its
// actor so that GET routes never wait behind a stop in progress.
type streamView struct {
	state   string
	lastErr string
	run     *pipelines.Running
}

// streamActor owns one stream: it starts and stops its incarnations, learns
// of their end by message, and restarts them after a plugin panic. Benthos
// calls that block (Run, StopWithin, construction) happen in goroutines that
// report back with messages; Receive never blocks.
type streamActor struct {
	id          string
	env         *pipelines.Environment
	log         zerolog.Logger
	view        *atomic.Pointer[streamView]
	stopTimeout time.Duration

	cur      *pipelines.Running
	prepared *pipelines.PreparedStream
	state    string
	lastErr  string

	busy  bool
	stash []any

	panics   int
	panicked *pipelines.Running // incarnation whose panic is being handled
	retryGen int
}

// runRef lets a panic callback name its incarnation before Start returned it.
type runRef struct {
	run atomic.Pointer[pipelines.Running]
}

func newStreamActorProps(id string, env *pipelines.Environment, log zerolog.Logger, view *atomic.Pointer[streamView], stopTimeout time.Duration) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor {
		return &streamActor{id: id, env: env, log: log.With().Str("stream", id).Logger(), view: view,
			stopTimeout: stopTimeout, state: config.StreamStarting}
	})
}

func (a *streamActor) publish() {
	a.view.Store(&streamView{state: a.state, lastErr: a.lastErr, run: a.cur})
}

func (a *streamActor) Receive(ctx actor.Context) {
	defer logPanic(a.log, ctx)
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.publish()
	case *startStreamReq:
		if a.busy {
			a.stash = append(a.stash, msg)
			return
		}
		a.panics = 0
		a.begin(ctx, msg.prepared, msg.stopTimeout, msg.reply)
	case *stopStreamReq:
		if a.busy {
			a.stash = append(a.stash, msg)
			return
		}
		a.busy = true
		a.state = config.StreamStopped
		a.publish()
		cur := a.cur
		timeout := msg.timeout
		self, root := ctx.Self(), ctx.ActorSystem().Root
		go func() {
			if cur != nil {
				cur.Stop(timeout)
			}
			root.Send(self, &streamOpDone{stop: true, replyS: msg.reply})
		}()
	case *markStreamFailedReq:
		a.state = config.StreamFailed
		a.lastErr = msg.err
		a.prepared = nil
		a.publish()
		close(msg.reply)
	case *streamOpDone:
		a.onOpDone(ctx, msg)
	case *streamEnded:
		if msg.run != a.cur || msg.run.StopRequested() {
			return
		}
		if err := msg.run.Err(); err != nil {
			a.state = config.StreamFailed
			a.lastErr = err.Error()
			a.log.Warn().Err(err).Msg("stream failed")
		} else {
			a.state = config.StreamFinished
			a.lastErr = ""
		}
		a.publish()
	case *streamPanicked:
		if a.busy {
			// The panic may come from the incarnation being started (its
			// first message can run before Start's result reaches us):
			// decide once the operation is done.
			a.stash = append(a.stash, msg)
			return
		}
		a.onPanic(ctx, msg.ref.run.Load())
	case *streamRetry:
		if msg.gen != a.retryGen || a.prepared == nil {
			return
		}
		self, root := ctx.Self(), ctx.ActorSystem().Root
		prepared := a.prepared
		go func() {
			r, err := a.start(root, self, prepared)
			root.Send(self, &streamOpDone{run: r, err: err, prepared: prepared, restart: true})
		}()
	}
}

// begin replaces the current incarnation (if any) by a new one built from
// prepared; the reply gets the construction error, if any.
func (a *streamActor) begin(ctx actor.Context, prepared *pipelines.PreparedStream, stopTimeout time.Duration, reply chan error) {
	a.busy = true
	a.retryGen++
	old := a.cur
	if old != nil {
		a.state = config.StreamStopped
	} else {
		a.state = config.StreamStarting
	}
	a.publish()
	self, root := ctx.Self(), ctx.ActorSystem().Root
	go func() {
		if old != nil {
			old.Stop(stopTimeout)
		}
		r, err := a.start(root, self, prepared)
		root.Send(self, &streamOpDone{run: r, err: err, prepared: prepared, reply: reply})
	}()
}

// start builds and runs one incarnation; it runs outside the actor.
func (a *streamActor) start(root *actor.RootContext, self *actor.PID, prepared *pipelines.PreparedStream) (*pipelines.Running, error) {
	ref := &runRef{}
	r, err := a.env.Start(pipelines.StartOptions{
		ID:      a.id,
		Stream:  prepared,
		OnPanic: func() { root.Send(self, &streamPanicked{ref: ref}) },
	})
	if err != nil {
		return nil, err
	}
	ref.run.Store(r)
	go func() {
		<-r.Ended()
		root.Send(self, &streamEnded{run: r})
	}()
	return r, nil
}

func (a *streamActor) onOpDone(ctx actor.Context, msg *streamOpDone) {
	a.busy = false
	switch {
	case msg.stop:
		// cur stays for its frozen uptime and final stats.
		if !msg.failed {
			a.state = config.StreamStopped
		}
		a.publish()
		if msg.replyS != nil {
			close(msg.replyS)
		}
	case msg.err != nil:
		a.cur = nil
		a.state = config.StreamFailed
		a.lastErr = msg.err.Error()
		a.publish()
		if msg.reply != nil {
			msg.reply <- msg.err
		}
	default:
		a.cur = msg.run
		a.prepared = msg.prepared
		a.state = config.StreamRunning
		a.lastErr = ""
		select {
		case <-msg.run.Ended():
			// Ended already (a finite input): its streamEnded message
			// follows and settles the state.
		default:
		}
		a.publish()
		if msg.reply != nil {
			msg.reply <- nil
		}
	}
	// Replay everything that waited, in order; whatever finds the actor
	// busy again is stashed again.
	stash := a.stash
	a.stash = nil
	for _, m := range stash {
		ctx.Send(ctx.Self(), m)
	}
}

// onPanic restarts the incarnation that recovered a plugin panic, with
// backoff, or marks the stream failed after maxPanicRestarts restarts.
func (a *streamActor) onPanic(ctx actor.Context, r *pipelines.Running) {
	if r == nil || r != a.cur || a.panicked == r {
		return
	}
	a.panicked = r
	a.panics++
	if a.panics > maxPanicRestarts {
		a.state = config.StreamFailed
		a.lastErr = fmt.Sprintf("a plugin panicked %d times; not restarting", a.panics)
		a.log.Error().Int("panics", a.panics).Msg("stream failed after repeated plugin panics")
	} else {
		a.state = config.StreamStarting
		a.log.Warn().Int("restart", a.panics).Msg("plugin panicked; restarting stream")
	}
	a.busy = true
	a.publish()
	backoff := panicBackoffBase << (a.panics - 1)
	if backoff > panicBackoffMax || backoff <= 0 {
		backoff = panicBackoffMax
	}
	failed := a.panics > maxPanicRestarts
	a.retryGen++
	gen := a.retryGen
	self, root := ctx.Self(), ctx.ActorSystem().Root
	timeout := a.stopTimeout
	go func() {
		r.Stop(timeout)
		if failed {
			root.Send(self, &streamOpDone{stop: true, failed: true})
			return
		}
		// Time as a message: the retry arrives after the backoff.
		time.AfterFunc(backoff, func() { root.Send(self, &streamRetry{gen: gen}) })
	}()
}
