package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/store"
)

// TestClaimCommitSettingStaysInItsTransaction: a claim commits with synchronous=NORMAL;
// the write connection must be back at FULL afterwards, also after a claim that failed,
// or publications would be acknowledged before they are on disk.
func TestClaimCommitSettingStaysInItsTransaction(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "j.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
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
	p := store.ClaimParams{Now: now, Limit: 1, Lease: time.Minute, Owner: "w"}
	if got, err := s.DeliveryClaim(ctx, p); err != nil || len(got) != 1 {
		t.Fatalf("claim: %d, %v", len(got), err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.DeliveryClaim(canceled, p); err == nil {
		t.Fatal("a claim with a canceled context succeeded")
	}
	var level int
	if err := s.write.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&level); err != nil || level != 2 {
		t.Errorf("synchronous = %d, %v on the write connection after claims, want 2 (FULL)", level, err)
	}
}
