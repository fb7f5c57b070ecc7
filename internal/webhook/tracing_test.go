package webhook_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/telemetry"
	"github.com/junctionhq/junction/internal/telemetry/telemetrytest"
	"github.com/junctionhq/junction/internal/testkit"
	"github.com/junctionhq/junction/internal/webhook"
)

// A publish is an "event.publish" span under the caller's; its traceparent is stored
// with the delivery, so the attempts, made here by a service started after the publish
// with a new tracer provider (a restart), are "webhook.delivery" spans that are
// children of the publish, and each receiver request carries its attempt's traceparent.
func TestTracingPublishAndDeliveryAttempts(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		published := telemetrytest.Trace(t)
		before := newHookEnv(t, st, fastSettings(), webhook.Options{})
		r := newReceiver(t)
		r.setStatus(http.StatusInternalServerError)
		ep := before.endpoint(t, r.URL)

		ctx, caller := telemetry.StartSpan(context.Background(), "test", "caller", trace.SpanKindServer)
		if _, err := before.svc.Publish(ctx, event.Event{Type: "order.created", Data: json.RawMessage(`{"card":"4242-secret"}`)}); err != nil {
			t.Fatal(err)
		}
		caller.End()
		pubs := published.Named("event.publish")
		if len(pubs) != 1 || !telemetrytest.ChildOf(pubs[0], published.Named("caller")[0]) {
			t.Fatalf("publish spans %d, or not a child of the caller", len(pubs))
		}
		pub := pubs[0]
		d := before.deliveries(t, ep.ID)[0]
		if want := "00-" + pub.SpanContext.TraceID().String() + "-" + pub.SpanContext.SpanID().String() + "-01"; d.TraceParent != want {
			t.Fatalf("stored traceparent %q, want %q", d.TraceParent, want)
		}

		// "Restart": a new provider and a new service on the same store.
		attempts := telemetrytest.Trace(t)
		after := newHookEnv(t, st, fastSettings(), webhook.Options{})
		after.run(t)
		testkit.WaitFor(t, "a failed attempt", func() bool { return len(r.all()) >= 1 })
		r.setStatus(http.StatusOK)
		testkit.WaitFor(t, "the delivery", func() bool { return after.deliveries(t, ep.ID)[0].Status == store.DeliveryDelivered })
		testkit.WaitFor(t, "the attempts' spans", func() bool { return len(attempts.Named("webhook.delivery")) == len(r.all()) })

		got := r.all()
		spans := attempts.Named("webhook.delivery")
		if len(spans) < 2 {
			t.Fatalf("%d attempt spans, want at least 2", len(spans))
		}
		for i, sp := range spans {
			if !telemetrytest.ChildOf(sp, pub) {
				t.Errorf("attempt %d is not a child of the publish", i+1)
			}
			if telemetrytest.Attr(sp, "junction.endpoint_id") != ep.ID || telemetrytest.Attr(sp, "junction.attempt") != []string{"1", "2", "3"}[i] {
				t.Errorf("attempt %d attributes %v", i+1, sp.Attributes)
			}
			want := "00-" + sp.SpanContext.TraceID().String() + "-" + sp.SpanContext.SpanID().String() + "-01"
			if tp := got[i].header.Get("Traceparent"); tp != want {
				t.Errorf("receiver request %d traceparent %q, want %q", i+1, tp, want)
			}
			for _, kv := range sp.Attributes {
				if v := kv.Value.String(); v == r.URL || v == ep.Secret || json.Valid([]byte(v)) && len(v) > 10 {
					t.Errorf("attempt span carries %s=%q", kv.Key, v)
				}
			}
		}
		if spans[0].Status.Code != 1 || spans[len(spans)-1].Status.Code == 1 {
			t.Errorf("attempt statuses %v … %v", spans[0].Status, spans[len(spans)-1].Status)
		}
	})
}
