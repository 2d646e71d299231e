package http

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/rs/zerolog"

	"github.com/weirflow/weir/config"
)

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
	case errors.Is(err, context.Canceled) && c.Request.Context().Err() != nil:
		// The client went away; nobody reads the answer. 499 is what the
		// access log records, nothing is written.
		c.Status(499)
	default:
		// Storage failures and deadlines: the events may or may not have
		// been stored; the client must retry.
		log.Error().Err(err).Str("method", c.Request.Method).Str("path", c.Request.URL.Path).Msg("polarstreams request failed")
		polarText(c, http.StatusInternalServerError, internal)
	}
}
