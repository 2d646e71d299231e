package pipelines

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// abandonAfter is how long a stop may overrun its deadline before weir stops
// waiting for the stream's components and abandons them.
const abandonAfter = 5 * time.Second

// StartOptions describe one stream incarnation to start.
type StartOptions struct {
	ID string
	// Stream is the parsed config.
	Stream *PreparedStream
	// OnPanic is called (from any goroutine) when a wrapped plugin of this
	// incarnation recovered a panic.
	OnPanic func()
}

// Running is one started incarnation of a stream: built, constructed and
// running (or already finished) in its own goroutine.
type Running struct {
	id      string
	env     *Environment
	log     zerolog.Logger
	sink    *statsSink
	mux     *streamMux
	cancel  context.CancelFunc
	started time.Time

	runDone  chan struct{}
	runErr   error
	stopping atomic.Bool
	stopOnce sync.Once
	stopped  chan struct{}
	strm     interface {
		StopWithin(time.Duration) error
	}
}

// Start builds and runs one incarnation and returns once its components are
// constructed. A construction failure is a *BuildError (nothing keeps
// running). The stream's metrics go to its own sink, its HTTP endpoints to its
// own mux, and it uses proxies for every shared resource.
func (env *Environment) Start(opts StartOptions) (*Running, error) {
	token := newToken()
	r := &Running{
		id:      opts.ID,
		env:     env,
		log:     env.log.With().Str("stream", opts.ID).Logger(),
		mux:     newStreamMux(),
		runDone: make(chan struct{}),
		stopped: make(chan struct{}),
	}
	r.sink = newStatsSink(opts.ID, opts.OnPanic)
	env.sinks.Store(token, r.sink)
	defer env.sinks.Delete(token)

	b := env.svc.NewStreamBuilder()
	b.DisableLinting()
	b.SetEnvVarLookupFunc(lookupNone)
	b.SetLogger(env.slog.With("stream", opts.ID))
	if err := b.SetYAML(opts.Stream.build); err != nil {
		return nil, &ParseError{Msg: err.Error()}
	}
	// The mapping adds the stream label to every series, as Benthos streams
	// mode does; the exporter routes them to this incarnation's sink.
	metricsYAML := "mapping: " + strconv.Quote("meta stream = "+strconv.Quote(opts.ID)) + "\n" +
		statsExporterName + ":\n  sink: " + token + "\n"
	if err := b.SetMetricsYAML(metricsYAML); err != nil {
		return nil, &BuildError{Msg: err.Error()}
	}
	b.SetHTTPMux(r.mux)
	if err := env.res.addProxies(b, "", "", resourceRefs(opts.Stream.Text)); err != nil {
		return nil, &BuildError{Msg: err.Error()}
	}
	strm, err := b.Build()
	if err != nil {
		return nil, &BuildError{Msg: err.Error()}
	}
	r.strm = strm
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.started = time.Now()
	r.sink.started = r.started
	go func() {
		err := strm.Run(ctx)
		r.runErr = err
		r.sink.freeze(time.Now())
		close(r.runDone)
	}()
	// Benthos registers the stream's /ready endpoint right after every
	// component was constructed, and Run returns at once when construction
	// fails: whichever comes first tells the outcome.
	select {
	case <-r.mux.constructed:
	case <-r.runDone:
		select {
		case <-r.mux.constructed:
		default:
			cancel()
			msg := "stream ended before it started"
			if r.runErr != nil {
				msg = r.runErr.Error()
			}
			return nil, &BuildError{Msg: msg}
		}
	}
	env.mu.Lock()
	env.current[opts.ID] = r.sink
	env.mu.Unlock()
	return r, nil
}

// ID is the stream id.
func (r *Running) ID() string { return r.id }

// Started is when this incarnation started.
func (r *Running) Started() time.Time { return r.started }

// Uptime counts from the start and freezes when the incarnation ends.
func (r *Running) Uptime() time.Duration { return r.sink.uptime() }

// Ended is closed when the stream ended (by itself, with an error, or
// because it was stopped).
func (r *Running) Ended() <-chan struct{} { return r.runDone }

// Err is the reason the stream ended by itself: nil when its input finished.
// Only meaningful after Ended and when StopRequested is false.
func (r *Running) Err() error {
	if errors.Is(r.runErr, context.Canceled) {
		return nil
	}
	return r.runErr
}

// StopRequested reports whether weir asked this incarnation to stop.
func (r *Running) StopRequested() bool { return r.stopping.Load() }

// Ready reports whether the stream's input and output are connected.
func (r *Running) Ready() bool {
	h := r.mux.handler("/ready")
	if h == nil {
		return false
	}
	w := &statusWriter{header: http.Header{}}
	req, _ := http.NewRequest(http.MethodGet, "/ready", nil)
	h(w, req)
	return w.status == 0 || w.status == http.StatusOK
}

// Stats renders the stream's metrics (streams-mode stats object).
func (r *Running) Stats() map[string]any { return r.sink.Snapshot() }

// Handler serves the stream's HTTP endpoints (http_server inputs and
// outputs, /ready, /stats) relative to the stream; the caller strips the
// /{id} prefix.
func (r *Running) Handler() http.Handler { return r.mux }

// Stop stops the incarnation: gracefully until timeout, then forcefully;
// components that have not returned abandonAfter later are abandoned (logged).
// A forced stop is not an error. Stop is idempotent and safe to call after the
// stream ended by itself.
func (r *Running) Stop(timeout time.Duration) {
	r.stopOnce.Do(func() {
		r.stopping.Store(true)
		// Run would otherwise race us to Stop when the stream closes.
		r.cancel()
		errc := make(chan error, 1)
		go func() { errc <- r.strm.StopWithin(timeout) }()
		select {
		case err := <-errc:
			if err != nil && !strings.Contains(err.Error(), "not been run") {
				r.log.Warn().Err(err).Dur("timeout", timeout).Msg("stream stopped forcefully")
			}
		case <-time.After(timeout + abandonAfter):
			r.log.Error().Dur("timeout", timeout).Msg("stream components did not stop; abandoned")
		}
		<-r.runDone
		r.sink.freeze(time.Now())
		close(r.stopped)
	})
	<-r.stopped
}

// Forget drops the incarnation's metrics from Prometheus (stream deleted).
func (env *Environment) Forget(id string, r *Running) {
	env.mu.Lock()
	defer env.mu.Unlock()
	if r == nil || env.current[id] == r.sink {
		delete(env.current, id)
	}
}

// streamMux is the HTTP multiplexer one incarnation registers its endpoints
// on. Unlike http.ServeMux it never panics on a pattern (components register
// whatever path the user configured) and the last registration wins.
type streamMux struct {
	mu          sync.RWMutex
	handlers    map[string]http.HandlerFunc
	constructed chan struct{}
	once        sync.Once
}

func newStreamMux() *streamMux {
	return &streamMux{handlers: map[string]http.HandlerFunc{}, constructed: make(chan struct{})}
}

func (m *streamMux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.mu.Lock()
	m.handlers[pattern] = h
	m.mu.Unlock()
	if pattern == "/ready" {
		m.once.Do(func() { close(m.constructed) })
	}
}

func (m *streamMux) handler(path string) http.HandlerFunc {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.handlers[path]
}

func (m *streamMux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := m.handler(r.URL.Path)
	if h == nil {
		http.NotFound(w, r)
		return
	}
	h(w, r)
}

// statusWriter records the status of an in-process readiness probe.
type statusWriter struct {
	header http.Header
	status int
}

func (w *statusWriter) Header() http.Header { return w.header }
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(b), nil
}
func (w *statusWriter) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
}
