package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"time"

	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/store"
)

// recordTimeout bounds the storing of one announced event.
const recordTimeout = 10 * time.Second

// circuitRecorder stores the integrations' circuit events (IntegrationCircuitOpened,
// IntegrationCircuitClosed), which the integrations announce on the bus only, in the
// store's events, so the events sources of flows (which read the store) receive them.
// An event is stored under an id made from its content, so the recorders of a runtime
// and of the one replacing it, both subscribed during a reload, store it once. The
// bus's queue drops its oldest events when a subscriber falls far behind; circuit
// changes are rare, so that does not happen in practice.
type circuitRecorder struct {
	store store.Store
	bus   *event.Bus
	log   *slog.Logger
	stop  func()
}

func (r *circuitRecorder) Start(context.Context) error {
	if r.bus == nil || r.store == nil {
		return nil
	}
	r.stop = r.bus.Subscribe(func(e event.Event) bool {
		return e.Type == event.IntegrationCircuitOpened || e.Type == event.IntegrationCircuitClosed
	}, r.record)
	return nil
}

func (r *circuitRecorder) Stop(context.Context) error {
	if r.stop != nil {
		r.stop()
	}
	return nil
}

func (r *circuitRecorder) record(e event.Event) {
	if e.ID == "" {
		sum := sha256.Sum256([]byte(e.Type + "\x00" + e.Source + "\x00" + e.Time.UTC().Format(time.RFC3339Nano) + "\x00" + string(e.Data)))
		e.ID = "evt_" + hex.EncodeToString(sum[:12])
	}
	ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
	defer cancel()
	if _, _, err := r.store.EventPublish(ctx, e, nil); err != nil {
		r.log.Warn("storing a circuit event failed; events sources will not see it", "type", e.Type, "error", err)
	}
}
