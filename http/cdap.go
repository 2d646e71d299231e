package http

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// TEMPORARY skeleton: the CDAP issue replaces this file.
func (s *Server) newCDAPHandler() http.Handler {
	r := gin.New()
	r.Use(gin.Recovery())
	return r
}
