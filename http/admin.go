package http

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// TEMPORARY skeleton: the operator-tooling issue replaces this file.
func (s *Server) newAdminHandler() http.Handler {
	r := gin.New()
	r.Use(gin.Recovery())
	return r
}
