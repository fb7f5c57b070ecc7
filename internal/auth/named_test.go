package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/auth"
)

// TestAuthenticateName: a client certificate's CN stands for the one active token of
// that name; none, several, a revoked one or no CN at all authenticate nobody, and a
// revocation through the service applies at once despite the cache.
func TestAuthenticateName(t *testing.T) {
	ctx := context.Background()
	svc := auth.NewService(openStore(t), func() time.Time { return now })
	_, bot, err := svc.Create(ctx, auth.Operator, auth.RoleUser, "ci-bot")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, _, err := svc.Create(ctx, auth.Operator, auth.RoleAdmin, "twin"); err != nil {
			t.Fatal(err)
		}
	}
	got, err := svc.AuthenticateName(ctx, "ci-bot")
	if err != nil || got.ID != bot.ID || got.Role != auth.RoleUser {
		t.Fatalf("ci-bot: %+v %v", got, err)
	}
	for name, want := range map[string]string{
		"":       "no subject common name",
		"nobody": `CN "nobody" names no active API token`,
		"twin":   `CN "twin" names 2 active API tokens`,
	} {
		if _, err := svc.AuthenticateName(ctx, name); !errors.Is(err, auth.ErrUnauthenticated) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", name, err, want)
		}
	}
	if err := svc.Revoke(ctx, auth.Operator, bot.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AuthenticateName(ctx, "ci-bot"); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("after revocation: %v", err)
	}
}
