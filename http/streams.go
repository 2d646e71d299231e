package http

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// Streams is what the streams-mode API needs from weir's stream manager.
// TEMPORARY skeleton: the streams issue replaces this file.
type Streams interface {
	// NotConnected lists active streams whose input or output is not
	// connected, sorted ascending.
	NotConnected() []string
}

func (s *Server) newStreamsHandler() http.Handler {
	r := gin.New()
	r.Use(gin.Recovery())
	s.registerBasic(r)
	return r
}
