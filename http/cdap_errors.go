package http

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/weirflow/weir/config"
)

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

// isNotFound reports a missing topic or namespace: on stream routes both
// answer the stream's 404 body (spec §1).
func cdapIsNotFound(err error) bool {
	return errors.Is(err, config.ErrTopicNotFound) || errors.Is(err, config.ErrNamespaceNotFound)
}
