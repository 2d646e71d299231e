package http

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/rs/zerolog"

	"github.com/weirflow/weir/config"
)

// This file is the one place where config's sentinel errors become HTTP
// statuses and bodies. There is one function per API family, because each
// family's contract fixes different statuses and exact bodies for the same
// error (a missing consumer is 409 in PolarStreams, a missing topic 404 with
// a route-specific body in CDAP); handlers only return errors into these.

// adminStatus maps an error to the status of weir's own /weir/v1 routes.
// Client mistakes are 4xx, never 500; unknown errors are 500.
func adminStatus(err error) int {
	switch {
	case errors.Is(err, config.ErrInvalidName), errors.Is(err, config.ErrInvalidArgument):
		return http.StatusBadRequest
	case errors.Is(err, config.ErrNamespaceNotFound), errors.Is(err, config.ErrTopicNotFound),
		errors.Is(err, config.ErrPartitionNotFound), errors.Is(err, config.ErrStreamNotFound),
		errors.Is(err, config.ErrNotMember), errors.Is(err, errGroupNotFound):
		return http.StatusNotFound
	case errors.Is(err, config.ErrNamespaceExists), errors.Is(err, config.ErrTopicExists),
		errors.Is(err, config.ErrStreamExists), errors.Is(err, config.ErrMemberConflict):
		return http.StatusConflict
	case errors.Is(err, config.ErrNamespaceProtected):
		return http.StatusForbidden
	case errors.Is(err, config.ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, config.ErrBusy), errors.Is(err, config.ErrUnavailable), errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable
	case errors.Is(err, config.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	default:
		return http.StatusInternalServerError
	}
}

// --- CDAP Stream API v3 (spec/cdap-streams.md §0) ---

const cdapTextType = "text/plain; charset=utf-8"

// cdapError renders err as a CDAP answer (spec §0): a *cdapErr carries its
// own status and exact body; engine sentinels map to the statuses the spec
// fixes. Not-found bodies depend on the route, so handlers turn not-found
// errors into *cdapErr (streamNotFound, namespaceNotFound) before this.
func cdapError(c *gin.Context, s *Server, err error) {
	var ce *cdapErr
	switch {
	case errors.As(err, &ce):
		c.Data(ce.status, cdapTextType, []byte(ce.msg))
	case errors.Is(err, errCDAPTooLarge), errors.Is(err, config.ErrTooLarge):
		c.Data(http.StatusRequestEntityTooLarge, cdapTextType, []byte("Request body too large"))
	case errors.Is(err, config.ErrBusy), errors.Is(err, config.ErrTimeout), errors.Is(err, config.ErrUnavailable),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		// DESIGN "Busy and deadlines": the deadline passed while the engine
		// was busy or stopping; the request may succeed if retried.
		s.log.Warn().Err(err).Str("path", c.Request.URL.Path).Msg("cdap: engine busy or unavailable")
		c.Header("Retry-After", "1")
		c.Data(http.StatusServiceUnavailable, cdapTextType, []byte("Service unavailable, retry later"))
	case errors.Is(err, config.ErrInvalidName), errors.Is(err, config.ErrInvalidArgument):
		c.Data(http.StatusBadRequest, cdapTextType, []byte(err.Error()))
	case errors.Is(err, config.ErrStorage):
		s.log.Error().Err(err).Str("path", c.Request.URL.Path).Msg("cdap: storage failure")
		c.Data(http.StatusInternalServerError, cdapTextType, []byte("Storage failure"))
	default:
		s.log.Error().Err(err).Str("path", c.Request.URL.Path).Msg("cdap: request failed")
		c.Data(http.StatusInternalServerError, cdapTextType, []byte("Internal server error"))
	}
}

func streamNotFound(ns, id string) *cdapErr {
	return &cdapErr{status: http.StatusNotFound, msg: "'stream:" + ns + "." + id + "' was not found."}
}

func namespaceNotFound(ns string) *cdapErr {
	return &cdapErr{status: http.StatusNotFound, msg: "'namespace:" + ns + "' was not found."}
}

// cdapIsNotFound reports a missing topic or namespace: on stream routes both
// answer the stream's 404 body (spec §1).
func cdapIsNotFound(err error) bool {
	return errors.Is(err, config.ErrTopicNotFound) || errors.Is(err, config.ErrNamespaceNotFound)
}

// --- PolarStreams (spec/polarstreams.md §0) ---

// polarError maps an engine error to PolarStreams' status and exact body.
// internal is the route's 500 body ("Internal server error" for produce and
// the consumer writes, "Unexpected error while reading" for poll).
func polarError(c *gin.Context, log zerolog.Logger, err error, internal string) {
	switch {
	case errors.Is(err, config.ErrNotMember):
		polarText(c, http.StatusConflict, polarNotRegistered)
	case errors.Is(err, config.ErrMemberConflict):
		polarText(c, http.StatusBadRequest, polarConflict)
	case errors.Is(err, config.ErrInvalidName), errors.Is(err, config.ErrTopicNotFound):
		// Names are validated before the engine is called; this is the
		// engine agreeing, or a topic deleted under a consumer.
		polarText(c, http.StatusBadRequest, polarInvalidTopic)
	case errors.Is(err, config.ErrBusy):
		c.Header("Retry-After", "1")
		polarText(c, http.StatusServiceUnavailable, polarBusy)
	case errors.Is(err, config.ErrUnavailable):
		c.Header("Retry-After", "1")
		polarText(c, http.StatusServiceUnavailable, polarUnavailable)
	case c.Request.Context().Err() != nil:
		// The client went away (closed the connection, e.g. its own timeout
		// during a ?wait= poll); nobody reads the answer. The engine reports
		// this as a timeout wrapping context.Canceled only as text, so the
		// request's own context decides. Not an error of weir's: debug log,
		// 499 for the access log, nothing written.
		log.Debug().Err(err).Str("method", c.Request.Method).Str("path", c.Request.URL.Path).Msg("polarstreams client went away")
		c.Status(499)
	default:
		// Storage failures and deadlines: the events may or may not have
		// been stored; the client must retry.
		log.Error().Err(err).Str("method", c.Request.Method).Str("path", c.Request.URL.Path).Msg("polarstreams request failed")
		polarText(c, http.StatusInternalServerError, internal)
	}
}

// --- Benthos streams mode (spec/benthos-streams.md §0) ---

// streamsError is the one mapping from the stream manager's errors to the
// streams-mode statuses and bodies.
func streamsError(w http.ResponseWriter, err error) {
	var lint *config.StreamLintError
	var cfgErr *config.StreamConfigError
	var build *config.StreamBuildError
	var set *config.StreamSetError
	var kind *config.InvalidResourceKind
	switch {
	case errors.As(err, &lint):
		lints := lint.Lints
		if lints == nil {
			lints = []string{}
		}
		writeJSON(w, http.StatusBadRequest, map[string][]string{"lint_errors": lints, "linting_errors": lints})
	case errors.As(err, &cfgErr):
		textError(w, http.StatusBadRequest, "Error: "+cfgErr.Msg)
	case errors.As(err, &set):
		textError(w, http.StatusBadRequest, "Error: "+set.Error())
	case errors.As(err, &kind):
		textError(w, http.StatusBadRequest, "Var `type` must be set to one of `cache`, `input`, `output`, `processor` or `rate_limit`")
	case errors.Is(err, config.ErrStreamNotFound):
		textError(w, http.StatusNotFound, "Stream not found")
	case errors.Is(err, config.ErrStreamExists):
		textError(w, http.StatusBadRequest, "Stream already exists")
	case errors.Is(err, config.ErrTooLarge):
		textError(w, http.StatusRequestEntityTooLarge, "Error: "+err.Error())
	case errors.Is(err, config.ErrUnavailable):
		textError(w, http.StatusServiceUnavailable, "Error: "+err.Error())
	case errors.As(err, &build):
		textError(w, http.StatusBadGateway, "Error: "+build.Msg)
	default:
		textError(w, http.StatusBadGateway, "Error: "+err.Error())
	}
}
