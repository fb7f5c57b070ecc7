package webhook_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/webhook"
)

func declare(t *testing.T, s webhook.Settings, env map[string]string, src string) []webhook.Declared {
	t.Helper()
	cfg, diags := config.Decode("d.cai", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	ds, err := webhook.Declare(cfg, s, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// managed lists the store's managed endpoints by name.
func managed(t *testing.T, st store.Store) map[string]store.Endpoint {
	t.Helper()
	eps, err := st.EndpointsManagedOrNamed(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.Endpoint{}
	for _, ep := range eps {
		out[ep.Name] = ep
	}
	return out
}

// Sync, run by every runtime's start, makes the managed endpoints agree with the
// declarations: created once, kept (id, secret, circuit) while unchanged, changed in
// place (a new url resets the circuit, a new declared secret overlaps the old one, a
// 410-disabled endpoint is active again), deleted when no longer declared; an endpoint
// made through the API with a declared name stops it before it changes anything.
func TestSyncDeclaredWebhooks(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		s := fastSettings()
		sync := func(ds []webhook.Declared) (*hookEnv, error) {
			t.Helper()
			e := newHookEnv(t, st, s, webhook.Options{})
			e.svc.SetDeclared(ds)
			return e, e.svc.Sync(ctx)
		}
		secret := "whsec_" + strings.Repeat("QUJD", 8)
		first := declare(t, s, nil, `
webhook a { event "order.*"  url "https://a.example.com/hooks" }
webhook b { event "user.created"  url "https://b.example.com/hooks" }`)
		if _, err := sync(first); err != nil {
			t.Fatal(err)
		}
		before := managed(t, st)
		if len(before) != 2 || !before["a"].Managed || !strings.HasPrefix(before["a"].Secret, "whsec_") {
			t.Fatalf("after the first sync: %+v", before)
		}
		// Unchanged: nothing moves, not even updated_at.
		if _, err := sync(first); err != nil {
			t.Fatal(err)
		}
		if again := managed(t, st); again["a"].ID != before["a"].ID || !again["a"].UpdatedAt.Equal(before["a"].UpdatedAt) || again["a"].Secret != before["a"].Secret {
			t.Errorf("an unchanged declaration changed its endpoint: %+v → %+v", before["a"], again["a"])
		}
		// Disable b as a 410 Gone would.
		now := time.Now().UTC()
		off, reason := false, "the endpoint answered 410 Gone"
		if _, err := st.EndpointUpdate(ctx, before["b"].ID, store.EndpointPatch{IsActive: &off, DisabledReason: &reason, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		second := declare(t, s, map[string]string{"B_SECRET": secret}, `
webhook a { event "order.*"  url "https://a2.example.com/hooks" }
webhook b { event "user.created"  event "user.deleted"  url "https://b.example.com/hooks"  secret env(B_SECRET) }`)
		if _, err := sync(second); err != nil {
			t.Fatal(err)
		}
		after := managed(t, st)
		a, b := after["a"], after["b"]
		if a.ID != before["a"].ID || a.URL != "https://a2.example.com/hooks" || a.CircuitGeneration != before["a"].CircuitGeneration+1 {
			t.Errorf("a after a url change: %+v", a)
		}
		if b.ID != before["b"].ID || !b.IsActive || b.DisabledReason != "" || len(b.Events) != 2 || b.Secret != secret ||
			b.PreviousSecret != before["b"].Secret || b.PreviousSecretUntil == nil {
			t.Errorf("b after events and secret changed: %+v", b)
		}
		// An API endpoint named like a declared webhook: refused, nothing changes.
		api, err := st.EndpointCreate(ctx, store.Endpoint{ID: "api-c", Name: "c", URL: "https://c.example.com", Secret: secret, IsActive: true, IsHealthy: true, CreatedAt: now})
		if err != nil {
			t.Fatal(err)
		}
		third := declare(t, s, nil, `webhook c { event "order.*"  url "https://c.example.com/hooks" }`)
		e, err := sync(third)
		if err == nil || !strings.Contains(err.Error(), "d.cai:1:1: webhook c: endpoint api-c, made through the API, has the same name") {
			t.Errorf("Sync with an API endpoint named c = %v", err)
		}
		if got := managed(t, st); len(got) != 2 {
			t.Errorf("a refused sync changed the endpoints: %v", got)
		}
		// The API refuses to change a managed endpoint, and to take a declared name.
		e.svc.SetDeclared(second)
		for what, err := range map[string]error{
			"update": func() error { _, err := e.svc.UpdateEndpoint(ctx, a.ID, webhook.EndpointUpdate{}); return err }(),
			"delete": e.svc.DeleteEndpoint(ctx, a.ID),
			"rotate": func() error { _, err := e.svc.RotateSecret(ctx, a.ID); return err }(),
			"create": func() error {
				_, err := e.svc.CreateEndpoint(ctx, webhook.EndpointInput{Name: "a", URL: "https://x.example.com", Events: []string{"*"}})
				return err
			}(),
			"rename": func() error {
				name := "b"
				_, err := e.svc.UpdateEndpoint(ctx, api.ID, webhook.EndpointUpdate{Name: &name})
				return err
			}(),
		} {
			if !errors.Is(err, webhook.ErrManaged) || !strings.Contains(err.Error(), "d.cai:") {
				t.Errorf("%s: err = %v, want ErrManaged naming the declaration", what, err)
			}
		}
		if err := st.EndpointDelete(ctx, api.ID, now); err != nil {
			t.Fatal(err)
		}
		// Without the declarations, their endpoints go.
		if _, err := sync(third); err != nil {
			t.Fatal(err)
		}
		if got := managed(t, st); len(got) != 1 || got["c"].ID == "" {
			t.Errorf("after the declarations changed to c only: %v", got)
		}
		if _, err := st.EndpointGet(ctx, a.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a's endpoint is still there: %v", err)
		}
	})
}

// What the configuration gets wrong is an error with its position; what the environment
// lacks (or gives wrong) makes the webhook misconfigured, and its reason never quotes a
// value.
func TestDeclareChecks(t *testing.T) {
	s := fastSettings()
	s.SignatureHeader = "X-Signature"
	cfg, diags := config.Decode("d.cai", []byte(`
webhook a { event "bad type!"  url "https://a.example.com" }
webhook b { event "e"  url "https://b.example.com"  headers { "x-signature": "x" } }`))
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	_, err := webhook.Declare(cfg, s, func(string) (string, bool) { return "", false })
	for _, want := range []string{`d.cai:2:1: webhook a: "bad type!" is not an event type`, "d.cai:3:63: webhook b header x-signature: the webhook delivery settings sign every delivery in this header"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Declare = %v, want %q", err, want)
		}
	}
	ds := declare(t, s, map[string]string{"KEY": "k-secret-value", "BAD_SECRET": "not-a-secret-value"}, `
webhook a { event "e"  url "https://a.example.com"  headers { "X-Key": "$KEY" }  secret env(BAD_SECRET) }
webhook b { event "e"  url "https://b.example.com/$PATH_PART"  headers { "X-Key": "$MISSING" } }`)
	if m := ds[0].Misconfigured; !strings.Contains(m, `secret: secret does not start with "whsec_"`) || strings.Contains(m, "not-a-secret-value") {
		t.Errorf("a: %q", m)
	}
	if m := ds[1].Misconfigured; !strings.Contains(m, "url: PATH_PART is not set") || !strings.Contains(m, "header X-Key: MISSING is not set") {
		t.Errorf("b: %q", m)
	}
	if ds[0].Header.Get("X-Key") != "k-secret-value" || len(ds[0].Secrets) != 1 || ds[0].Method != "POST" {
		t.Errorf("a: %+v", ds[0])
	}
}
