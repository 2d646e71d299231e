package http

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// registerBasic adds the process routes every deployment has: /ping,
// /version, /metrics and /ready. They live on the streams-mode engine because
// Benthos serves them there, with its exact bodies.
func (s *Server) registerBasic(r *gin.Engine) {
	r.GET("/ping", func(c *gin.Context) {
		c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte("pong"))
	})
	r.GET("/version", func(c *gin.Context) {
		built := s.opts.Built
		if built == "" {
			built = "unknown"
		}
		c.JSON(http.StatusOK, gin.H{"version": s.opts.Version, "built": built})
	})
	r.GET("/metrics", func(c *gin.Context) {
		if s.opts.Metrics == nil {
			c.Status(http.StatusNotFound)
			return
		}
		s.opts.Metrics.ServeHTTP(c.Writer, c.Request)
	})
	r.GET("/ready", func(c *gin.Context) {
		if s.opts.Engine != nil && !s.opts.Engine.Ready() {
			c.Data(http.StatusServiceUnavailable, "text/plain; charset=utf-8", []byte("engine is not ready\n"))
			return
		}
		if s.opts.Streams != nil {
			if ids := s.opts.Streams.NotConnected(); len(ids) > 0 {
				c.Data(http.StatusServiceUnavailable, "text/plain; charset=utf-8",
					[]byte("streams "+strings.Join(ids, ", ")+" are not connected\n"))
				return
			}
		}
		c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte("OK"))
	})
}
