package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/weirflow/weir/config"
	"github.com/weirflow/weir/wal"
)

// Options configures Start.
type Options struct {
	// Config is the whole weir configuration; zero fields take the values
	// of config.Default().
	Config config.Config
	Logger zerolog.Logger
	// Registry receives the engine metrics; nil means a new one.
	Registry *prometheus.Registry

	// walOptions lets in-package tests adjust every partition's wal.Options
	// (fault injection, NoSync).
	walOptions func(*wal.Options)
}

// shared is what every actor of one Engine needs; it is read-only after
// Start.
type shared struct {
	system     *actor.ActorSystem
	cfg        config.Config
	log        zerolog.Logger
	m          *metrics
	reqTimeout time.Duration
	walOptions func(*wal.Options)
	// topicGone maps a topic actor's pid.Id to a channel closed when that
	// incarnation has stopped. A produce waits on a reply channel, not a
	// future, so a request the stopping topic never handled (dropped from
	// its mailbox, or sent on to a partition already gone) would otherwise
	// wait for its whole deadline.
	topicGone sync.Map
}

// Engine is weir's engine facade: every method takes a context and returns
// plain values and errors (sentinels from config, wrapped with detail); no
// actor type leaks out. The context's deadline becomes the request's
// timeout inside the engine (server.request_timeout when it has none).
type Engine struct {
	sh      *shared
	system  *actor.ActorSystem
	manager *actor.PID
	reg     *prometheus.Registry
	lock    *dirLock
	async   *asyncQueues

	mu       sync.RWMutex
	stopping bool
	calls    sync.WaitGroup
	ready    atomic.Bool

	stopOnce  sync.Once
	stopErr   error
	retention chan struct{}

	// topicPIDs caches the topic actor of each topic incarnation that
	// Produce has used (nsKey → *actor.PID), so produce goes facade →
	// topic → partition without a hop through the manager, whose mailbox
	// every other request shares. Safe per incarnation: a topic actor's
	// PID is named by the incarnation id and never reused, and a message
	// to a deleted incarnation comes back as a dead letter (not
	// processed), after which the entry is dropped and the request goes
	// through the manager again.
	topicPIDs sync.Map

	// pollSeq numbers polls for pollAbandon.
	pollSeq atomic.Uint64
}

// normalizeConfig returns a copy of c with zero values replaced by defaults.
func normalizeConfig(c config.Config) config.Config {
	d := config.Default()
	if c.Server.RequestTimeout <= 0 {
		c.Server.RequestTimeout = d.Server.RequestTimeout
	}
	if c.Server.ShutdownTimeout <= 0 {
		c.Server.ShutdownTimeout = d.Server.ShutdownTimeout
	}
	s := &c.Storage
	if s.DataDir == "" {
		s.DataDir = d.Storage.DataDir
	}
	if s.SegmentSize <= 0 {
		s.SegmentSize = d.Storage.SegmentSize
	}
	if s.DefaultPartitions <= 0 {
		s.DefaultPartitions = d.Storage.DefaultPartitions
	}
	if s.RetentionInterval <= 0 {
		s.RetentionInterval = d.Storage.RetentionInterval
	}
	if s.MaxInflightAppends <= 0 {
		s.MaxInflightAppends = d.Storage.MaxInflightAppends
	}
	if c.CDAP.AsyncQueueSize <= 0 {
		c.CDAP.AsyncQueueSize = d.CDAP.AsyncQueueSize
	}
	if c.PolarStreams.ConsumerTimeout <= 0 {
		c.PolarStreams.ConsumerTimeout = d.PolarStreams.ConsumerTimeout
	}
	return c
}

// Start locks the data directory, loads the catalog, starts the actor
// system and every topic and group actor, and returns when the engine
// accepts requests. A locked or unwritable data directory is an error that
// names the directory.
func Start(opts Options) (*Engine, error) {
	cfg := normalizeConfig(opts.Config)
	dataDir, err := filepath.Abs(cfg.Storage.DataDir)
	if err != nil {
		return nil, fmt.Errorf("data directory %s: %w", cfg.Storage.DataDir, err)
	}
	cfg.Storage.DataDir = dataDir
	lock, err := lockDataDir(dataDir)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			lock.unlock()
		}
	}()
	for _, sub := range []string{topicsDir, groupsDir} {
		if err := os.MkdirAll(filepath.Join(dataDir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("data directory %s: %w", dataDir, err)
		}
	}
	cat, err := openCatalog(dataDir)
	if err != nil {
		return nil, fmt.Errorf("data directory %s: %w", dataDir, err)
	}
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("register engine metrics: %w", err)
	}
	logger := opts.Logger
	system := actor.NewActorSystem(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slogLogger(logger) }),
		actor.WithDeadLetterRequestLogging(false),
	)
	sh := &shared{system: system, cfg: cfg, log: logger, m: m,
		reqTimeout: cfg.Server.RequestTimeout.Std(), walOptions: opts.walOptions}
	e := &Engine{sh: sh, system: system, reg: reg, lock: lock, retention: make(chan struct{})}
	e.async = newAsyncQueues(e, cfg.CDAP.AsyncQueueSize)
	pid, err := system.Root.SpawnNamed(newManagerProps(sh, cat), "weir")
	if err != nil {
		system.Shutdown()
		return nil, fmt.Errorf("start engine: %w", err)
	}
	e.manager = pid
	// The first answer proves the manager has run Started (topics and groups
	// spawned).
	if _, err := ask[*namespacesResp](context.Background(), e, &listNamespacesReq{}, "start"); err != nil {
		_ = system.Root.StopFuture(pid).Wait()
		system.Shutdown()
		return nil, err
	}
	go e.retentionLoop(cfg.Storage.RetentionInterval.Std())
	ok = true
	e.ready.Store(true)
	logger.Info().Str("data_dir", dataDir).Msg("engine started")
	return e, nil
}

// Registry is the Prometheus registry of the engine's metrics; other
// packages may register theirs on it too.
func (e *Engine) Registry() *prometheus.Registry { return e.reg }

// MetricsHandler serves the registry in the Prometheus text format.
func (e *Engine) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(e.reg, promhttp.HandlerOpts{Registry: e.reg})
}

// Ready reports whether the engine accepts requests.
func (e *Engine) Ready() bool { return e.ready.Load() }

// actorSystem and logger are for the stream actors (stream*.go), which spawn
// under the same system.
func (e *Engine) actorSystem() *actor.ActorSystem { return e.system }
func (e *Engine) logger() zerolog.Logger          { return e.sh.log }

// enter admits one facade call unless the engine is stopping; Stop waits for
// admitted calls before it drains the partitions.
func (e *Engine) enter() error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.stopping {
		return fmt.Errorf("%w: engine is stopping", config.ErrUnavailable)
	}
	e.calls.Add(1)
	return nil
}

func (e *Engine) exit() { e.calls.Done() }

// Stop shuts down gracefully: stop admitting requests, answer parked polls,
// drain the async queues, wait for admitted calls, drain every partition
// (write what is queued, fsync), then stop the actors and release the data
// directory. It is idempotent. If ctx ends first, the remaining steps run
// anyway without waiting and ctx's error is returned.
func (e *Engine) Stop(ctx context.Context) error {
	e.stopOnce.Do(func() { e.stopErr = e.stop(ctx) })
	return e.stopErr
}

func (e *Engine) stop(ctx context.Context) error {
	e.mu.Lock()
	e.stopping = true
	e.mu.Unlock()
	e.ready.Store(false)
	close(e.retention)
	var errs []error
	if _, err := ask[*okResp](ctx, e, &releasePollsReq{}, "release polls"); err != nil {
		errs = append(errs, err)
	}
	if err := e.async.drain(ctx); err != nil {
		errs = append(errs, err)
	}
	done := make(chan struct{})
	go func() { e.calls.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("%w: waiting for requests in flight: %v", config.ErrTimeout, ctx.Err()))
	}
	if _, err := ask[*okResp](ctx, e, &drainAllReq{}, "drain partitions"); err != nil {
		errs = append(errs, err)
	}
	// Stopping the manager stops its children first; partitions write
	// anything still queued and close (fsync) their logs in Stopping.
	_ = e.system.Root.StopFuture(e.manager).Wait()
	e.system.Shutdown()
	e.lock.unlock()
	e.sh.log.Info().Msg("engine stopped")
	return errors.Join(errs...)
}

func (e *Engine) retentionLoop(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-e.retention:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), e.sh.reqTimeout)
			if err := e.RunRetention(ctx); err != nil && !errors.Is(err, config.ErrUnavailable) {
				e.sh.log.Error().Err(err).Msg("retention run failed")
			}
			cancel()
		}
	}
}

// RunRetention applies TTL and size retention to every partition now and
// returns when all are done (the periodic job does the same every
// storage.retention_interval).
func (e *Engine) RunRetention(ctx context.Context) error {
	if err := e.enter(); err != nil {
		return err
	}
	defer e.exit()
	_, err := ask[*okResp](ctx, e, &retentionAllReq{}, "retention")
	return err
}

// timeout turns ctx's deadline into a future timeout.
func (e *Engine) timeout(ctx context.Context, extra time.Duration) (time.Duration, error) {
	if dl, ok := ctx.Deadline(); ok {
		d := time.Until(dl)
		if d <= 0 {
			return 0, fmt.Errorf("%w: deadline passed", config.ErrTimeout)
		}
		return d, nil
	}
	return e.sh.reqTimeout + extra, nil
}

// ask sends msg to the manager and waits for the answer.
func ask[T any](ctx context.Context, e *Engine, msg any, what string) (T, error) {
	return askPID[T](ctx, e, e.manager, msg, what, 0)
}

// askPID sends msg to pid and waits (up to ctx's deadline, or the request
// timeout plus extra) for an answer of type T or a *failure.
func askPID[T any](ctx context.Context, e *Engine, pid *actor.PID, msg any, what string, extra time.Duration) (T, error) {
	var zero T
	d, err := e.timeout(ctx, extra)
	if err != nil {
		return zero, err
	}
	// A request to a topic incarnation that stops before answering (its
	// partitions drop their queued messages when stopped) would wait for its
	// whole timeout; the incarnation's gone channel ends the wait instead.
	var gone chan struct{}
	if g, ok := e.sh.topicGone.Load(pid.Id); ok {
		gone = g.(chan struct{})
	}
	f := e.system.Root.RequestFuture(pid, msg, d)
	var res any
	if ctx.Done() == nil && gone == nil {
		res, err = f.Result()
	} else {
		ch := make(chan struct{})
		go func() { res, err = f.Result(); close(ch) }()
		select {
		case <-ch:
		case <-gone:
			select {
			case <-ch: // it answered before it stopped
			default:
				return zero, mapActorErr(actor.ErrDeadLetter, what)
			}
		case <-ctx.Done():
			return zero, mapActorErr(ctx.Err(), what)
		}
	}
	if err != nil {
		return zero, mapActorErr(err, what)
	}
	if err := replyErr(res); err != nil {
		return zero, err
	}
	out, ok := res.(T)
	if !ok {
		return zero, fmt.Errorf("%s: unexpected answer %T", what, res)
	}
	return out, nil
}

// spawnChild spawns an actor as a child of the manager (the streams
// supervisor), so one root supervises everything and stopping the engine
// stops it too.
func (e *Engine) spawnChild(name string, props *actor.Props) (*actor.PID, error) {
	reply := make(chan spawnChildResult, 1)
	e.system.Root.Send(e.manager, &spawnChildReq{name: name, props: props, reply: reply})
	select {
	case r := <-reply:
		return r.pid, r.err
	case <-time.After(e.sh.reqTimeout):
		return nil, fmt.Errorf("%w: spawn %s", config.ErrTimeout, name)
	}
}
