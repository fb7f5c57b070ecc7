package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// readyTimeout bounds the store ping behind /readyz: a probe that hangs is worse than
// one that says "not ready", since orchestrators give up on slow probes anyway.
const readyTimeout = 2 * time.Second

// healthz is liveness: the process is up and serving HTTP. It does no I/O on purpose,
// so a slow database never gets a healthy process restarted.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, r, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz is readiness: the store answers a ping within readyTimeout.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.logger.LogAttrs(r.Context(), slog.LevelWarn, "readiness check failed",
			slog.String("check", "store"), slog.String("backend", s.store.Backend()), slog.String("err", err.Error()))
		// The probe is public, so the detail names the failing check and its kind of
		// failure but not the driver error, which can carry host names and addresses.
		why := "ping failed"
		if errors.Is(err, context.DeadlineExceeded) {
			why = fmt.Sprintf("did not answer a ping within %s", readyTimeout)
		}
		p := NewProblem(KindUnavailable, fmt.Sprintf("not ready: store (%s) %s", s.store.Backend(), why)).
			With("checks", map[string]string{"store": "down"})
		w.Header().Set("Retry-After", strconv.Itoa(int(storeRetryAfter/time.Second)))
		WriteProblem(w, r, p)
		return
	}
	s.writeJSON(w, r, http.StatusOK, map[string]string{"status": "ready"})
}

// metricsHandler serves the registry in the Prometheus exposition format. Collection
// errors are reported in the response body by promhttp (ContinueOnError), so a single
// broken collector does not blank every other metric.
func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	})
}
