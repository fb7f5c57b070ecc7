package auth_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/auth"
	"github.com/junctionhq/junction/internal/store"
)

// clockFunc is a settable time source.
type clockFunc struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clockFunc) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clockFunc) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestAuthenticatorRemembersValidTokensForTTL(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	secret, tok, err := auth.Issue(ctx, s, store.RoleUser, "u", now)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clockFunc{t: now}
	a := auth.NewAuthenticator(s, 5*time.Second, clk.now)
	if got, err := a.Authenticate(ctx, "Bearer "+secret); err != nil || got.ID != tok.ID {
		t.Fatalf("first check: %v", err)
	}
	// Revoked in storage (as by another process): still trusted within the TTL…
	if err := s.TokenRevoke(ctx, tok.ID, now); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, "Bearer "+secret); err != nil {
		t.Fatalf("within TTL: %v", err)
	}
	// …and refused once it has passed.
	clk.add(5 * time.Second)
	if _, err := a.Authenticate(ctx, "Bearer "+secret); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("after TTL: %v", err)
	}
}

func TestAuthenticatorForgetAndNoNegativeCaching(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	a := auth.NewAuthenticator(s, time.Hour, nil)
	secret, tok, err := auth.Issue(ctx, s, store.RoleAdmin, "a", now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, "Bearer "+secret); err != nil {
		t.Fatal(err)
	}
	if err := s.TokenRevoke(ctx, tok.ID, now); err != nil {
		t.Fatal(err)
	}
	a.Forget(tok.ID)
	if _, err := a.Authenticate(ctx, "Bearer "+secret); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("after Forget: %v", err)
	}
	// A failure is not remembered: a token made right after works at once.
	unknown := "Bearer jct_" + "A123456789012345678901234567890123456789012"
	if _, err := a.Authenticate(ctx, unknown); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("unknown token: %v", err)
	}
	secret2, _, err := auth.Issue(ctx, s, store.RoleUser, "b", now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, "Bearer "+secret2); err != nil {
		t.Fatalf("fresh token: %v", err)
	}
}
