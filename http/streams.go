package http

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/weirflow/weir/config"
)

// Streams is what the Benthos streams-mode API (spec/benthos-streams.md)
// needs from weir's stream manager (*actors.Streams implements it). Request
// bodies are passed raw: the manager applies env substitution, YAML, lint,
// parse and build in the order the spec fixes, and returns config's stream
// error types, which streamsError maps to statuses and bodies.
type Streams interface {
	// NotConnected lists active streams whose input or output is not
	// connected, sorted ascending.
	NotConnected() []string
	List() map[string]config.StreamStatus
	Get(id string) (config.StreamStatus, error)
	Create(ctx context.Context, id string, body []byte, chilled bool) error
	Replace(ctx context.Context, id string, body []byte, chilled bool, stopTimeout time.Duration) error
	Patch(ctx context.Context, id string, body []byte, chilled bool, stopTimeout time.Duration) error
	Delete(ctx context.Context, id string, stopTimeout time.Duration) error
	SetAll(ctx context.Context, body []byte, chilled bool, stopTimeout time.Duration) error
	Stats(id string) (map[string]any, error)
	SetResource(ctx context.Context, kind, id string, body []byte, chilled bool) error
	// Endpoint serves a stream's own HTTP endpoints (paths relative to
	// /{id}); nil when there is no such stream.
	Endpoint(id string) http.Handler
}

// newStreamsHandler serves the streams-mode family and the process routes.
// The streams routes are matched by hand rather than by gin's router: the
// contract answers unsupported methods with 400 (never 405), a trailing
// slash with 404 (never a redirect), and treats ids as opaque segments.
func (s *Server) newStreamsHandler() http.Handler {
	r := gin.New()
	r.Use(gin.Recovery())
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.HandleMethodNotAllowed = false
	s.registerBasic(r)
	r.NoRoute(func(c *gin.Context) {
		if c.Request.Method != http.MethodGet && processRoutes[c.Request.URL.Path] {
			// Benthos serves its process routes on every method (HEAD
			// /ready is a common probe); answer them as GET. A clone keeps
			// net/http's view of the real method, so HEAD gets no body.
			c.Request = c.Request.Clone(c.Request.Context())
			c.Request.Method = http.MethodGet
			r.HandleContext(c)
			return
		}
		// gin presets 404 before NoRoute handlers; handlers that write
		// without WriteHeader (Benthos's endpoints) mean 200.
		c.Status(http.StatusOK)
		s.serveStreamsAPI(c.Writer, c.Request)
	})
	return r
}

func (s *Server) serveStreamsAPI(w http.ResponseWriter, r *http.Request) {
	segs, ok := pathSegments(r.URL)
	if !ok {
		http.NotFound(w, r)
		return
	}
	st := s.opts.Streams
	switch {
	case st == nil:
		http.NotFound(w, r)
	case len(segs) == 1 && segs[0] == "streams":
		s.streamsCollection(w, r)
	case len(segs) == 2 && segs[0] == "streams" && segs[1] != "":
		s.streamOne(w, r, segs[1])
	case len(segs) == 3 && segs[0] == "streams" && segs[1] != "" && segs[2] == "stats":
		s.streamStats(w, r, segs[1])
	case len(segs) == 3 && segs[0] == "resources" && segs[1] != "" && segs[2] != "":
		s.resource(w, r, segs[1], segs[2])
	case len(segs) >= 1 && segs[0] != "":
		// A stream's own endpoints live under /{id}/...; weir's routes
		// (matched above and by gin) win on conflict.
		h := st.Endpoint(segs[0])
		if h == nil {
			http.NotFound(w, r)
			return
		}
		r2 := r.Clone(r.Context())
		rest := "/" + strings.Join(segs[1:], "/")
		r2.URL.Path = rest
		r2.URL.RawPath = ""
		h.ServeHTTP(w, r2)
	default:
		http.NotFound(w, r)
	}
}

// processRoutes are the routes registerBasic serves.
var processRoutes = map[string]bool{"/ping": true, "/version": true, "/metrics": true, "/ready": true}

// pathSegments splits the decoded path, as Benthos's router matches it: an
// encoded "/" (%2F) separates segments like a plain one, so an id never
// contains "/" (POST /streams/a%2Fb is 404, as in Benthos), while other
// escapes (%20) are part of the id.
func pathSegments(u *url.URL) ([]string, bool) {
	p := u.Path
	if !strings.HasPrefix(p, "/") {
		return nil, false
	}
	return strings.Split(p[1:], "/"), true
}

// textError writes T(msg): text/plain, nosniff, msg + "\n".
func textError(w http.ResponseWriter, code int, msg string) {
	http.Error(w, msg, code)
}

// emptyOK writes E200: 200, Content-Length 0, no Content-Type.
func emptyOK(w http.ResponseWriter) {
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		textError(w, http.StatusBadGateway, "Error: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// readBody reads a request body up to streams.max_body_size.
func (s *Server) readBody(r *http.Request) ([]byte, error) {
	limit := int64(s.opts.Config.Streams.MaxBodySize)
	if limit <= 0 {
		limit = int64(config.Default().Streams.MaxBodySize)
	}
	b, err := readBodyLimit(r, limit)
	if err != nil && !errors.Is(err, config.ErrTooLarge) {
		return nil, &config.StreamConfigError{Msg: err.Error()}
	}
	return b, err
}

// stopTimeout parses ?timeout=, which must be a positive Go duration when
// present; 0 means the configured default.
func stopTimeout(r *http.Request) (time.Duration, error) {
	q := r.URL.Query()
	if !q.Has("timeout") {
		return 0, nil
	}
	raw := q.Get("timeout")
	d, err := time.ParseDuration(raw)
	if err != nil || d <= 0 {
		return 0, &config.StreamConfigError{Msg: fmt.Sprintf("invalid timeout %q", raw)}
	}
	return d, nil
}

func chilled(r *http.Request) bool { return r.URL.Query().Get("chilled") == "true" }

func uptimeFields(st config.StreamStatus) (float64, string) {
	return st.Uptime.Seconds(), st.Uptime.String()
}

func (s *Server) streamsCollection(w http.ResponseWriter, r *http.Request) {
	st := s.opts.Streams
	switch r.Method {
	case http.MethodGet:
		out := map[string]any{}
		for id, v := range st.List() {
			up, upStr := uptimeFields(v)
			out[id] = map[string]any{"active": v.Active, "uptime": up, "uptime_str": upStr}
		}
		writeJSON(w, http.StatusOK, out)
	case http.MethodPost:
		timeout, err := stopTimeout(r)
		if err != nil {
			streamsError(w, err)
			return
		}
		body, err := s.readBody(r)
		if err != nil {
			streamsError(w, err)
			return
		}
		if err := st.SetAll(r.Context(), body, chilled(r), timeout); err != nil {
			streamsError(w, err)
			return
		}
		emptyOK(w)
	default:
		textError(w, http.StatusBadRequest, "Error: method not supported")
	}
}

func (s *Server) streamOne(w http.ResponseWriter, r *http.Request, id string) {
	st := s.opts.Streams
	var err error
	switch r.Method {
	case http.MethodGet:
		v, err := st.Get(id)
		if err != nil {
			streamsError(w, err)
			return
		}
		up, upStr := uptimeFields(v)
		writeJSON(w, http.StatusOK, map[string]any{
			"active": v.Active, "uptime": up, "uptime_str": upStr,
			"config": v.Config, "state": v.State, "last_error": v.LastError,
		})
		return
	case http.MethodPost:
		var body []byte
		if body, err = s.readBody(r); err == nil {
			err = st.Create(r.Context(), id, body, chilled(r))
		}
	case http.MethodPut, http.MethodPatch, http.MethodDelete:
		var timeout time.Duration
		if timeout, err = stopTimeout(r); err != nil {
			break
		}
		if r.Method == http.MethodDelete {
			err = st.Delete(r.Context(), id, timeout)
			break
		}
		var body []byte
		if body, err = s.readBody(r); err != nil {
			break
		}
		if r.Method == http.MethodPut {
			err = st.Replace(r.Context(), id, body, chilled(r), timeout)
		} else {
			err = st.Patch(r.Context(), id, body, chilled(r), timeout)
		}
	default:
		textError(w, http.StatusBadRequest, "Error: verb not supported: "+r.Method)
		return
	}
	if err != nil {
		streamsError(w, err)
		return
	}
	emptyOK(w)
}

func (s *Server) streamStats(w http.ResponseWriter, r *http.Request, id string) {
	if r.Method != http.MethodGet {
		textError(w, http.StatusBadRequest, "Error: verb not supported: "+r.Method)
		return
	}
	stats, err := s.opts.Streams.Stats(id)
	if err != nil {
		streamsError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, stats)
}

func (s *Server) resource(w http.ResponseWriter, r *http.Request, kind, id string) {
	if r.Method != http.MethodPost {
		textError(w, http.StatusBadRequest, "Error: verb not supported: "+r.Method)
		return
	}
	body, err := s.readBody(r)
	if err == nil {
		err = s.opts.Streams.SetResource(r.Context(), kind, id, body, chilled(r))
	}
	if err != nil {
		streamsError(w, err)
		return
	}
	emptyOK(w)
}
