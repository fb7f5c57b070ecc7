package app

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/testkit"
)

// TestWebhookDeliveriesFollow: following prints a delivery again only when it made
// another attempt or changed status, a new one when it appears, and rides out a
// server that fails for a while, saying so.
func TestWebhookDeliveriesFollow(t *testing.T) {
	delivery := func(id, status string, attempts int) string {
		return fmt.Sprintf(`{"id":%q,"event_type":"order.created","status":%q,"attempt_count":%d,"max_attempts":3,"updated_at":"2025-03-14T15:09:26Z"}`, id, status, attempts)
	}
	answers := []string{
		`[` + delivery("d1", "pending", 0) + `]`,
		"", // 500
		`[` + delivery("d2", "pending", 0) + `,` + delivery("d1", "retrying", 1) + `]`,
		`[` + delivery("d2", "pending", 0) + `,` + delivery("d1", "retrying", 1) + `]`,
	}
	var polls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/webhooks/ep1/deliveries" || r.URL.Query().Get("status") != "retrying" {
			http.Error(w, "unexpected "+r.URL.String(), http.StatusBadRequest)
			return
		}
		n := int(polls.Add(1)) - 1
		answer := answers[min(n, len(answers)-1)]
		if answer == "" {
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, `{"data":%s}`, answer)
	}))
	defer srv.Close()
	var out, notes testkit.SyncBuffer
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- WebhookDeliveries(ctx, APIClient{BaseURL: srv.URL}, "ep1", DeliveriesOptions{Status: "retrying", Limit: 5},
			Follow{Every: 10 * time.Millisecond, Notes: &notes}, &out)
	}()
	testkit.WaitFor(t, "the polls", func() bool { return polls.Load() > int32(len(answers)+1) })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("WebhookDeliveries = %v", err)
	}
	got := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{
		"2025-03-14T15:09:26.000Z d1 order.created pending   attempt 0/3",
		"2025-03-14T15:09:26.000Z d1 order.created retrying  attempt 1/3",
		"2025-03-14T15:09:26.000Z d2 order.created pending   attempt 0/3",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), strings.Join(want, "\n"))
	}
	if n := notes.String(); !strings.Contains(n, "503") || !strings.Contains(n, "still trying") || !strings.Contains(n, "the server answers again") {
		t.Errorf("notes:\n%s", n)
	}
}
