package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/webhook"
)

// fakeResolver gives the names it knows their addresses; others do not resolve.
type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if addrs, ok := f[host]; ok {
		return addrs, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

var hookNames = fakeResolver{
	"hooks.internal.test": {netip.MustParseAddr("127.0.0.1")},
	"mixed.test":          {netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("93.184.215.14")},
}

// TestWebhookRegistrationRefusesUnreachableAddresses: an endpoint every delivery to
// which the address guard would refuse is refused when it is registered or its URL
// changes, with a 400 naming allowed_networks; allowed networks, public addresses and
// names that do not resolve are accepted.
func TestWebhookRegistrationRefusesUnreachableAddresses(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		h := newHookServerResolving(t, st, webhook.SettingsFrom(nil), hookNames)
		create := func(url string) response {
			t.Helper()
			return h.req("POST", "/webhooks", h.user, fmt.Sprintf(`{"name":"n","url":%q,"events":["*"]}`, url))
		}
		for _, tc := range []struct{ url, says string }{
			{"http://127.0.0.1:9099/hook", "127.0.0.1 is not a public address"},
			{"http://[::1]:9099/hook", "::1 is not a public address"},
			{"http://localhost:9099/hook", "localhost resolves only to 127.0.0.1, ::1"},
			{"http://hooks.internal.test/hook", "hooks.internal.test resolves only to 127.0.0.1"},
		} {
			resp := create(tc.url)
			if resp.StatusCode != 400 || resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("%s: %d %s", tc.url, resp.StatusCode, resp.body)
			}
			var p struct {
				Errors []struct{ Field, Detail string }
			}
			if err := json.Unmarshal(resp.body, &p); err != nil {
				t.Fatal(err)
			}
			if len(p.Errors) != 1 || p.Errors[0].Field != "url" || !strings.Contains(p.Errors[0].Detail, tc.says) ||
				!strings.Contains(p.Errors[0].Detail, "allowed_networks") || !strings.Contains(p.Errors[0].Detail, "type: webhook") {
				t.Errorf("%s: %s", tc.url, resp.body)
			}
		}
		for _, url := range []string{"http://mixed.test/hook", "http://unresolvable.test/hook", "http://93.184.215.14/hook"} {
			if resp := create(url); resp.StatusCode != 201 {
				t.Errorf("%s: %d %s", url, resp.StatusCode, resp.body)
			}
		}
		id := h.expect(201, "POST", "/webhooks", h.user, `{"name":"p","url":"http://mixed.test/a","events":["*"]}`)["id"].(string)
		if resp := h.req("PUT", "/webhooks/"+id, h.user, `{"url":"http://127.0.0.1:9099/hook"}`); resp.StatusCode != 400 || !strings.Contains(string(resp.body), "allowed_networks") {
			t.Errorf("PUT to loopback: %d %s", resp.StatusCode, resp.body)
		}

		s := webhook.SettingsFrom(nil)
		s.AllowedNetworks = []string{"127.0.0.0/8"}
		allowed := newHookServerResolving(t, st, s, hookNames)
		for _, url := range []string{"http://127.0.0.1:9099/hook", "http://localhost:9099/hook", "http://hooks.internal.test/hook"} {
			allowed.expect(201, "POST", "/webhooks", allowed.user, fmt.Sprintf(`{"name":"n","url":%q,"events":["*"]}`, url))
		}
	})
}

// TestWebhookFailedAttemptsAreLogged: every failed attempt is logged at warn with the
// endpoint, the delivery, the attempt and the reason; a refused address says how to
// allow it.
func TestWebhookFailedAttemptsAreLogged(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		s := webhook.SettingsFrom(nil)
		h := newHookServer(t, st, s)
		bad := failingReceiver(t)
		// Stored directly: registration refuses loopback without allowed_networks, but an
		// endpoint registered before, or whose name resolved elsewhere then, is refused
		// when its delivery connects.
		now := time.Now().UTC()
		ep, err := st.EndpointCreate(context.Background(), store.Endpoint{ID: "ep-" + fmt.Sprint(now.UnixNano()), Name: "local",
			URL: bad.URL, Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", Events: []string{"*"}, IsActive: true, IsHealthy: true, CreatedAt: now, UpdatedAt: now})
		if err != nil {
			t.Fatal(err)
		}
		d := h.expect(200, "POST", "/webhooks/"+ep.ID+"/test", h.user, "")
		line := warnLine(t, h.logs.String(), d["id"].(string))
		if line["endpoint_id"] != ep.ID || line["attempt"] != float64(1) ||
			!strings.Contains(fmt.Sprint(line["reason"]), "not allowed") || !strings.Contains(fmt.Sprint(line["reason"]), "allowed_networks") {
			t.Errorf("refused attempt logged as %v", line)
		}
		if msg, _ := d["error_message"].(string); !strings.Contains(msg, "allowed_networks") {
			t.Errorf("stored reason does not say how to allow it: %q", msg)
		}

		s.AllowedNetworks = []string{"127.0.0.0/8"}
		h = newHookServer(t, st, s)
		id := h.expect(201, "POST", "/webhooks", h.user, fmt.Sprintf(`{"name":"failing","url":%q,"events":["*"]}`, bad.URL))["id"].(string)
		d = h.expect(200, "POST", "/webhooks/"+id+"/test", h.user, "")
		if line := warnLine(t, h.logs.String(), d["id"].(string)); line["endpoint_id"] != id || line["reason"] != "endpoint answered 500" || line["next_attempt_at"] == nil {
			t.Errorf("500 logged as %v", line)
		}
	})
}

// warnLine finds the warning about a failed attempt of a delivery in JSON logs.
func warnLine(t *testing.T, logs, deliveryID string) map[string]any {
	t.Helper()
	for _, l := range strings.Split(logs, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["delivery_id"] == deliveryID && m["msg"] == "webhook delivery attempt failed" {
			if m["level"] != "WARN" {
				t.Errorf("logged at %v", m["level"])
			}
			return m
		}
	}
	t.Fatalf("no warning for delivery %s in:\n%s", deliveryID, logs)
	return nil
}
