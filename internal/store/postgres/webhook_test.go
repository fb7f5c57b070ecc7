package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/servicetest"
	"github.com/junctionhq/junction/internal/store"
)

// TestClaimCommitSettingStaysInItsTransaction: a claim commits without waiting for the
// WAL flush; that setting must end with the claim, or publications made later on the
// same pooled connection would be acknowledged before they are durable.
func TestClaimCommitSettingStaysInItsTransaction(t *testing.T) {
	ctx := context.Background()
	s := openDSN(t, servicetest.PostgresDSN(t))
	if _, err := s.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if _, err := s.EndpointCreate(ctx, store.Endpoint{ID: "ep", URL: "https://example.com", Secret: "whsec_x", IsActive: true, IsHealthy: true, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.EventPublish(ctx, event.Event{ID: "ev", Type: "t", Time: now}, []store.Delivery{{ID: "d", EndpointID: "ep"}}); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		got, err := s.DeliveryClaim(ctx, store.ClaimParams{Now: now, Limit: 1, Lease: time.Minute, Owner: "w"})
		if want := map[bool]int{true: 1}[i == 0]; err != nil || len(got) != want {
			t.Fatalf("claim %d: %d, %v", i, len(got), err)
		}
	}
	conns := s.pool.AcquireAllIdle(ctx)
	if len(conns) == 0 {
		t.Fatal("no idle connection to check")
	}
	for _, c := range conns {
		var setting string
		if err := c.QueryRow(ctx, "SHOW synchronous_commit").Scan(&setting); err != nil || setting != "on" {
			t.Errorf("synchronous_commit = %q, %v on a pooled connection after claims, want on", setting, err)
		}
		c.Release()
	}
}
