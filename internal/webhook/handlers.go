package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/store"
)

// HandlerFanout makes the handler executions of a published event (package handler):
// Publish writes them in the event's transaction, then wakes their workers. It is a
// hook, so that this package need not know handlers.
type HandlerFanout interface {
	// Executions are the executions of e, published at now; ctx carries how deep in a
	// chain of emitted events e is.
	Executions(ctx context.Context, e event.Event, now time.Time) []store.HandlerExecution
	// Wake tells the workers that executions may be due now.
	Wake()
}

// SetHandlers gives the service the configuration's handlers. Call it before the
// service serves.
func (s *Service) SetHandlers(h HandlerFanout) { s.handlers = h }

// handlerExecutions are the executions of in, if handlers are set.
func (s *Service) handlerExecutions(ctx context.Context, in event.Event, now time.Time) []store.HandlerExecution {
	if s.handlers == nil {
		return nil
	}
	return s.handlers.Executions(ctx, in, now)
}

// DeliverTo stores one delivery of e to the declared webhook name, whatever the event
// types it subscribes to (`on "x" do webhook "name"`). key names the delivery: the same
// key makes nothing new, so a handler run again after a crash does not deliver twice.
// The delivery rides on an event of its own (id "hx_" + key, e's type and data, source
// given) because a stored event's deliveries are written with it; its body carries e's
// own id, so the receiver sees the event the handler handled.
func (s *Service) DeliverTo(ctx context.Context, name string, e event.Event, source, key string) error {
	eps, err := s.store.EndpointsManagedOrNamed(ctx, []string{name})
	if err != nil {
		return err
	}
	var ep *store.Endpoint
	for i := range eps {
		if eps[i].Managed && eps[i].Name == name {
			ep = &eps[i]
		}
	}
	if ep == nil {
		return fmt.Errorf("webhook %s is not declared in the configuration in force", name)
	}
	now := s.opts.Clock.Now().UTC()
	body, err := json.Marshal(struct {
		ID        string          `json:"id"`
		Type      string          `json:"type"`
		Timestamp time.Time       `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}{e.ID, e.Type, e.Time, e.Data})
	if err != nil {
		return err
	}
	d := s.newDelivery(*ep, "", e.Type, body, now, now)
	d.ID = uuid.NewSHA1(uuid.NameSpaceURL, []byte("junction:handler-delivery:"+key)).String()
	ev := event.Event{ID: "hx_" + key, Type: e.Type, Source: source, Time: now, Data: e.Data}
	d.EventID = ev.ID
	created, _, err := s.store.EventPublish(ctx, ev, []store.Delivery{d})
	if err == nil && created {
		s.opts.Metrics.published.Add(1)
		s.Wake()
	}
	return err
}
