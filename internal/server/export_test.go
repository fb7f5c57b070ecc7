package server

import (
	"net/http"

	"github.com/junctionhq/junction/internal/store"
)

// HandleForTest registers an extra authenticated route, so tests can exercise the
// middleware chain with handlers that panic or block. Call it before serving.
func (s *Server) HandleForTest(pattern string, need store.Role, h http.HandlerFunc) {
	s.handle(pattern, need, h)
}

// HandlePublicForTest registers an extra route that needs no token.
func (s *Server) HandlePublicForTest(pattern string, h http.HandlerFunc) {
	s.handlePublic(pattern, h)
}

// WriteTimeout is the http.Server's write timeout, for tests that check the call
// deadline stays below it.
const WriteTimeout = writeTimeout
