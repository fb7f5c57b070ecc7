package server

import (
	"net/http"
	"time"

	"github.com/junctionhq/junction/internal/auth"
)

// HandleForTest registers an extra authenticated route, so tests can exercise the
// middleware chain with handlers that panic or block. Call it before serving.
func (s *Server) HandleForTest(pattern string, need auth.Role, h http.HandlerFunc) {
	s.handle(pattern, need, answers(h))
}

// HandlePublicForTest registers an extra route that needs no token.
func (s *Server) HandlePublicForTest(pattern string, h http.HandlerFunc) {
	s.handlePublic(pattern, answers(h))
}

// HandleFuncForTest registers an extra user route with a handler that returns an error,
// so tests can see the problem the one error mapper makes of it.
func (s *Server) HandleFuncForTest(pattern string, h func(http.ResponseWriter, *http.Request) error) {
	s.handle(pattern, auth.RoleUser, h)
}

// answers adapts a handler that always answers itself.
func answers(h http.HandlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		h(w, r)
		return nil
	}
}

// WriteTimeout is the http.Server's write timeout, for tests that check the call
// deadline stays below it.
const WriteTimeout = writeTimeout

// SetStreamForTest sets each event stream's queue and keep-alive interval, so tests
// can overflow a stream and see keep-alives without waiting. Call it before serving.
func (s *Server) SetStreamForTest(queue int, keepalive time.Duration) {
	s.streamQueue, s.streamKeepalive = queue, keepalive
}
