package http

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/rs/zerolog"

	"github.com/weirflow/weir/config"
)

// Options configure a Server.
type Options struct {
	Config config.Config
	Engine Engine
	// Streams serves the streams-mode API; nil disables those routes.
	Streams Streams
	// Usage answers the CDAP usage lookups (which topics each pipeline
	// names); nil means no pipelines, so every lookup answers [].
	Usage PipelineUsage
	// Metrics serves GET /metrics (Prometheus text).
	Metrics http.Handler
	Logger  zerolog.Logger
	Version string
	Built   string
	// Middleware, when set, wraps the main listener's handler (the test
	// harness records every exchange through it to validate it against the
	// OpenAPI document); nil serves the Server itself. The dedicated
	// PolarStreams listeners are not wrapped.
	Middleware func(http.Handler) http.Handler
}

// Server is weir's HTTP front end.
type Server struct {
	opts    Options
	log     zerolog.Logger
	cdap    http.Handler
	polar   http.Handler
	streams http.Handler
	admin   http.Handler

	mainPort int
	// dedicated holds PolarStreams' optional per-family listeners
	// (polar_listeners.go).
	dedicated *dedicatedListeners
}

// New builds a Server; it does not listen until Serve.
func New(opts Options) *Server {
	gin.SetMode(gin.ReleaseMode)
	s := &Server{opts: opts, log: opts.Logger, dedicated: &dedicatedListeners{}}
	s.cdap = s.newCDAPHandler()
	s.polar = s.newPolarHandler()
	s.streams = s.newStreamsHandler()
	s.admin = s.newAdminHandler()
	return s
}

// ServeHTTP dispatches by path prefix to the family that owns the path.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/v3" || strings.HasPrefix(p, "/v3/"):
		s.cdap.ServeHTTP(w, r)
	case strings.HasPrefix(p, "/v1/") || p == "/status":
		s.polar.ServeHTTP(w, r)
	case strings.HasPrefix(p, "/weir/") || p == "/openapi.json":
		s.admin.ServeHTTP(w, r)
	default:
		s.streams.ServeHTTP(w, r)
	}
}

// Listen binds the main listener (port 0 picks a free port) and remembers the
// bound port for discovery answers.
func (s *Server) Listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", s.opts.Config.Server.Addr)
	if err != nil {
		return nil, err
	}
	s.mainPort = ln.Addr().(*net.TCPAddr).Port
	if err := s.ListenDedicated(); err != nil {
		_ = ln.Close()
		return nil, err
	}
	return ln, nil
}

// Serve serves on ln until ctx is cancelled, then shuts down gracefully
// within the configured shutdown timeout.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.mainPort == 0 {
		s.mainPort = ln.Addr().(*net.TCPAddr).Port
	}
	stopDedicated, err := s.serveDedicated()
	if err != nil {
		return err
	}
	var h http.Handler = s
	if s.opts.Middleware != nil {
		h = s.opts.Middleware(s)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		sctx, cancel := context.WithTimeout(context.Background(), s.opts.Config.Server.ShutdownTimeout.Std())
		defer cancel()
		_ = stopDedicated(sctx)
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.opts.Config.Server.ShutdownTimeout.Std())
	defer cancel()
	err = srv.Shutdown(sctx)
	if e := stopDedicated(sctx); e != nil && err == nil {
		err = e
	}
	if e := <-errc; e != nil && !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	return err
}

// requestContext gives every engine call the configured request deadline.
func (s *Server) requestContext(c *gin.Context) (context.Context, context.CancelFunc) {
	d := s.opts.Config.Server.RequestTimeout.Std()
	if d <= 0 {
		d = config.Default().Server.RequestTimeout.Std()
	}
	return context.WithTimeout(c.Request.Context(), d)
}
