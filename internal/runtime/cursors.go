package runtime

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/flow"
	"github.com/junctionhq/junction/internal/store"
)

const (
	// cursorPruneEvery is how often the events cursors of flows no longer declared are
	// looked for, besides once at each start (a reload is when flows go).
	cursorPruneEvery = 10 * time.Minute
	// removedFlowCursorGrace is how long a removed flow's cursor is kept when events are
	// kept forever; otherwise it is the event retention, past which the cursor's events
	// are gone anyway.
	removedFlowCursorGrace = 7 * 24 * time.Hour
	// cursorPruneTimeout bounds one look.
	cursorPruneTimeout = time.Minute
)

// cursorJanitor deletes the events cursors of flows the configuration no longer
// declares once they have not moved for the grace, so a flow put back within it goes on
// where it stopped and the table does not keep every flow that ever was. In a cluster it
// runs on the node doing the retention, and spares the flows whose events source some
// node holds: that node runs a configuration that still declares them.
type cursorJanitor struct {
	store    store.Store
	declared []string
	held     func() bool // nil: always
	grace    time.Duration
	clock    clock.Clock
	log      *slog.Logger

	cancel context.CancelFunc
	done   chan struct{}
}

func newCursorJanitor(flows []*config.Flow, deps Deps, log *slog.Logger) *cursorJanitor {
	j := &cursorJanitor{store: deps.Store, held: deps.RetentionHeld, grace: deps.EventRetention, clock: deps.Clock, log: log}
	if j.grace <= 0 {
		j.grace = removedFlowCursorGrace
	}
	for _, f := range flows {
		j.declared = append(j.declared, f.Name)
	}
	return j
}

func (j *cursorJanitor) Start(context.Context) error {
	if j.store == nil {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	j.cancel, j.done = cancel, make(chan struct{})
	go func() {
		defer close(j.done)
		tick := time.NewTicker(cursorPruneEvery)
		defer tick.Stop()
		for {
			if err := j.prune(ctx); err != nil && ctx.Err() == nil {
				j.log.Warn("deleting the events cursors of flows no longer declared", "error", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return nil
}

func (j *cursorJanitor) Stop(context.Context) error {
	if j.cancel != nil {
		j.cancel()
		<-j.done
	}
	return nil
}

// prune deletes the cursors of the flows neither declared nor held by a node that
// have not moved for the grace.
func (j *cursorJanitor) prune(ctx context.Context) error {
	if j.held != nil && !j.held() {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, cursorPruneTimeout)
	defer cancel()
	now := j.clock.Now()
	leases, err := j.store.LeaseList(ctx)
	if err != nil {
		return err
	}
	keep := append([]string{}, j.declared...)
	for _, l := range leases {
		if name, ok := strings.CutPrefix(l.Name, flow.SourceLeasePrefix); ok && l.ExpiresAt.After(now) {
			keep = append(keep, name)
		}
	}
	n, err := j.store.FlowEventCursorsPrune(ctx, keep, now.Add(-j.grace))
	if err != nil {
		return err
	}
	if n > 0 {
		j.log.Info("events cursors of flows no longer declared deleted", "count", n, "unused_for", j.grace.String())
	}
	return nil
}
