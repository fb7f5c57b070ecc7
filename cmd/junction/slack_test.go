package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// slackMessage is what the fake Slack Web API was asked to post.
type slackMessage struct{ Channel, Text, Auth string }

// fakeSlack behaves like Slack's chat.postMessage: without the bearer token, or to an
// unknown channel, it answers 200 with {"ok": false, "error": "not_authed" or
// "channel_not_found"}, as Slack does.
func fakeSlack(t *testing.T, token string) (*httptest.Server, chan slackMessage) {
	t.Helper()
	got := make(chan slackMessage, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method != http.MethodPost || r.URL.Path != "/chat.postMessage" {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"ok":false,"error":"unknown_method"}`)
			return
		}
		var m struct{ Channel, Text string }
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			fmt.Fprint(w, `{"ok":false,"error":"invalid_json"}`)
			return
		}
		msg := slackMessage{Channel: m.Channel, Text: m.Text, Auth: r.Header.Get("Authorization")}
		got <- msg
		switch {
		case msg.Auth != "Bearer "+token:
			fmt.Fprint(w, `{"ok":false,"error":"not_authed"}`)
		case m.Channel != "#orders":
			fmt.Fprint(w, `{"ok":false,"error":"channel_not_found"}`)
		default:
			fmt.Fprint(w, `{"ok":true,"channel":"C0123","ts":"1733486400.000100"}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

// TestPublishToSlack: an event with publish_to: [slack("#channel")] posts a Slack-style
// message through the declared Slack integration (its auth applies); a message Slack
// refuses (200 with ok: false) is logged with Slack's reason, never with the token.
func TestPublishToSlack(t *testing.T) {
	const token = "xoxb-test-token-7f3a"
	slack, got := fakeSlack(t, token)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "slack.cai")
	writeFile(t, cfg, fmt.Sprintf(`integration Slack {
    base_url: "%s"
    auth: bearer(env(SLACK_TOKEN))
    operation post_message { method: POST  path: "/chat.postMessage"  body: { channel: string, text: string } }
}

event order_placed {
    payload { id: string  total: integer }
    publish_to: [slack("#orders"), slack("#nowhere")]
}
`, slack.URL))
	env := []string{"SLACK_TOKEN=" + token}
	if out, _, code := run(t, dir, env, "validate", cfg); code != 0 || strings.Contains(out, "warning") {
		t.Fatalf("validate: exit %d\n%s", code, out)
	}
	admin := adminToken(t, dir, env)
	s := startServer(t, dir, env, "-c", cfg)
	a := api{t: t, base: s.base, token: admin}
	a.expect(http.StatusAccepted, "POST", "/events", map[string]any{"type": "order.placed", "data": map[string]any{"id": "o_1", "total": 120}})

	byChannel := map[string]slackMessage{}
	deadline := time.After(30 * time.Second)
	for len(byChannel) < 2 {
		select {
		case m := <-got:
			byChannel[m.Channel] = m
		case <-deadline:
			t.Fatalf("Slack got %v, want a message to #orders and #nowhere\n%s", byChannel, s.log())
		}
	}
	m := byChannel["#orders"]
	if m.Auth != "Bearer "+token || !strings.Contains(m.Text, "*order.placed*") || !strings.Contains(m.Text, `"id":"o_1"`) {
		t.Errorf("message to #orders: %+v", m)
	}
	eventually(t, "the refusal of #nowhere in the log", func() bool { return strings.Contains(s.log(), "channel_not_found") })
	if strings.Contains(s.log(), token) {
		t.Errorf("the Slack token is in the log:\n%s", s.log())
	}
}
