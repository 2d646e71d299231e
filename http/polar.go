package http

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// TEMPORARY skeleton: the PolarStreams issue replaces this file.
func (s *Server) newPolarHandler() http.Handler {
	r := gin.New()
	r.Use(gin.Recovery())
	return r
}
