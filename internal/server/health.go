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

// readyTimeout bounds the readiness check behind /readyz: a probe that hangs is worse
// than one that says "not ready", since orchestrators give up on slow probes anyway.
const readyTimeout = 2 * time.Second

// healthz is liveness: the process is up and serving HTTP. It does no I/O on purpose,
// so a slow database never gets a healthy process restarted.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// NotReady is a failed readiness check. The probe is public, so its answer names the
// check and its kind of failure but not Err, which can carry host names and addresses;
// Err goes to the log.
type NotReady struct {
	Check  string // the member of the answer's "checks": "store"
	What   string // what failed, for the detail: "store (sqlite)"
	Reason string // "ping failed", "did not answer a ping within 2s"
	Err    error
}

func (e *NotReady) Error() string { return fmt.Sprintf("%s %s: %v", e.What, e.Reason, e.Err) }
func (e *NotReady) Unwrap() error { return e.Err }

// Pinger is a store as its readiness check sees it (store.Store is one).
type Pinger interface {
	Ping(ctx context.Context) error
	Backend() string // "sqlite", "postgres"
}

// StoreCheck is the readiness check of a store: it answers a ping in time.
func StoreCheck(p Pinger) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		err := p.Ping(ctx)
		if err == nil {
			return nil
		}
		why := "ping failed"
		if errors.Is(err, context.DeadlineExceeded) {
			why = fmt.Sprintf("did not answer a ping within %s", readyTimeout)
		}
		return &NotReady{Check: "store", What: fmt.Sprintf("store (%s)", p.Backend()), Reason: why, Err: err}
	}
}

// readyz is readiness: the readiness check passes within readyTimeout.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	err := s.ready(ctx)
	if err == nil {
		return writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	}
	nr, ok := errors.AsType[*NotReady](err)
	if !ok {
		nr = &NotReady{Check: "server", What: "server", Reason: "check failed", Err: err}
	}
	s.logger.LogAttrs(r.Context(), slog.LevelWarn, "readiness check failed",
		slog.String("check", nr.Check), slog.String("what", nr.What), slog.String("err", err.Error()))
	return NewProblem(KindUnavailable, fmt.Sprintf("not ready: %s %s", nr.What, nr.Reason)).
		With("checks", map[string]string{nr.Check: "down"}).
		WithHeader("Retry-After", strconv.Itoa(int(storeRetryAfter/time.Second)))
}

// metricsHandler serves the registry in the Prometheus exposition format. Collection
// errors are reported in the response body by promhttp (ContinueOnError), so a single
// broken collector does not blank every other metric.
func (s *Server) metricsHandler() handlerFunc {
	h := promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	})
	return func(w http.ResponseWriter, r *http.Request) error {
		h.ServeHTTP(w, r)
		return nil
	}
}
