package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/junctionhq/junction/internal/config"
)

// Host holds the runtime in force and swaps it on reload. It is what the HTTP server
// serves: Gateway, Webhooks and Flows always reach the current runtime.
type Host struct {
	deps    Deps
	reload  sync.Mutex // one reload at a time
	current atomic.Pointer[Runtime]
}

// Start builds the runtime of cfg, starts it and returns the host holding it.
func Start(ctx context.Context, cfg *config.Config, deps Deps) (*Host, error) {
	rt, err := Build(cfg, deps, nil)
	if err != nil {
		return nil, err
	}
	if err := rt.Start(ctx); err != nil {
		return nil, errors.Join(err, rt.retire(ctx))
	}
	h := &Host{deps: deps}
	h.current.Store(rt)
	return h, nil
}

// Current is the runtime in force.
func (h *Host) Current() *Runtime { return h.current.Load() }

// Reload puts the runtime of cfg in force. It is built beside the running one, so a
// configuration that cannot be built changes nothing. Then the old runtime's workers
// stop (flows drain what they hold, within ctx), the new runtime takes over and starts,
// and the old one's integrations are retired once the calls in flight on them have
// ended. If the new runtime cannot start, the old one is started again and stays.
func (h *Host) Reload(ctx context.Context, cfg *config.Config) error {
	h.reload.Lock()
	defer h.reload.Unlock()
	old := h.current.Load()
	next, err := Build(cfg, h.deps, old)
	if err != nil {
		return err
	}
	if err := old.workers.Stop(ctx); err != nil {
		h.deps.Logger.Warn("stopping the previous runtime", "error", err)
	}
	h.current.Store(next)
	if err := next.Start(ctx); err != nil {
		h.current.Store(old)
		rerr := old.workers.Start(ctx)
		return errors.Join(fmt.Errorf("the new configuration did not start; the previous one is back in force: %w", err), rerr, next.retire(ctx))
	}
	return old.retire(ctx)
}

// Stop stops the runtime in force.
func (h *Host) Stop(ctx context.Context) error {
	h.reload.Lock()
	defer h.reload.Unlock()
	return h.current.Load().Stop(ctx)
}

// ErrStopped is returned for calls made after the host stopped.
var ErrStopped = errors.New("junction is shutting down")

// enter admits a call on the current runtime; leave must be called when it ends.
func (h *Host) enter() (rt *Runtime, leave func(), err error) {
	for {
		rt := h.current.Load()
		if rt.calls.enter() {
			return rt, rt.calls.leave, nil
		}
		if h.current.Load() == rt {
			return nil, nil, ErrStopped // retired and not replaced: the host stopped
		}
		// Retired between the load and the entry by a reload: take the new one.
	}
}
