package auth_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/auth"
	"github.com/junctionhq/junction/internal/errkind"
	"github.com/junctionhq/junction/internal/servicetest"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/postgres"
)

// onBothStores runs test on a fresh SQLite store and on a fresh PostgreSQL schema
// (skipped when PostgreSQL is not running, failed under JUNCTION_REQUIRE_SERVICES=1).
func onBothStores(t *testing.T, test func(t *testing.T, st store.Store)) {
	t.Run("sqlite", func(t *testing.T) { test(t, openStore(t)) })
	t.Run("postgres", func(t *testing.T) {
		ctx := context.Background()
		st, err := postgres.Open(ctx, servicetest.PostgresDSN(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		if _, err := st.MigrateUp(ctx); err != nil {
			t.Fatal(err)
		}
		test(t, st)
	})
}

// The token rules live in the service, so every caller meets them: the HTTP API (an
// actor with a token) and the CLI (the Operator).
func TestServiceRules(t *testing.T) {
	onBothStores(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		svc := auth.NewService(st, func() time.Time { return now })
		_, admin, err := svc.Create(ctx, auth.Operator, auth.RoleAdmin, "admin")
		if err != nil {
			t.Fatal(err)
		}
		userSecret, user, err := svc.Create(ctx, auth.Operator, auth.RoleUser, "user")
		if err != nil {
			t.Fatal(err)
		}
		if admin.CreatedAt != now || user.Role != auth.RoleUser {
			t.Errorf("created %+v %+v", admin, user)
		}

		// A token cannot revoke itself; another admin, or the Operator, can.
		if err := svc.Revoke(ctx, auth.ActorOf(admin), admin.ID); !errors.Is(err, auth.ErrRevokeSelf) {
			t.Errorf("self-revocation: %v, want ErrRevokeSelf", err)
		}
		// Only admins manage tokens, whoever asks.
		var roleErr *auth.RoleError
		if _, _, err := svc.Create(ctx, auth.ActorOf(user), auth.RoleAdmin, "escalate"); !errors.As(err, &roleErr) || roleErr.Need != auth.RoleAdmin {
			t.Errorf("user creates a token: %v", err)
		}
		if _, err := svc.List(ctx, auth.ActorOf(user)); !errors.As(err, &roleErr) {
			t.Errorf("user lists tokens: %v", err)
		}
		if err := svc.Revoke(ctx, auth.ActorOf(user), admin.ID); !errors.As(err, &roleErr) {
			t.Errorf("user revokes a token: %v", err)
		}
		if err := svc.Revoke(ctx, auth.Actor{}, admin.ID); !errors.As(err, &roleErr) {
			t.Errorf("an actor without a role revokes a token: %v", err)
		}
		toks, err := svc.List(ctx, auth.ActorOf(admin))
		if err != nil || len(toks) != 2 || toks[0].Revoked() || toks[1].Revoked() {
			t.Fatalf("after refused requests: %+v %v", toks, err)
		}

		// Every invalid field at once, in the request's order.
		_, _, err = svc.Create(ctx, auth.Operator, "root", " ")
		var v *auth.ValidationError
		if !errors.As(err, &v) {
			t.Fatalf("invalid request: %v", err)
		}
		var fields []string
		for _, f := range v.Fields {
			fields = append(fields, f.Field)
			if f.Detail == "" || strings.Contains(f.Detail, auth.ErrInvalidName.Error()) {
				t.Errorf("field detail %q", f.Detail)
			}
		}
		if !slices.Equal(fields, []string{"role", "name"}) {
			t.Errorf("fields %v, want [role name]", fields)
		}

		// The authenticator is the service's: a revocation through it applies at once,
		// even with a clock that stands still (the cache would keep it otherwise).
		if _, err := svc.Authenticate(ctx, "Bearer "+userSecret); err != nil {
			t.Fatal(err)
		}
		if err := svc.Revoke(ctx, auth.Operator, user.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Authenticate(ctx, "Bearer "+userSecret); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Errorf("revoked token authenticates: %v", err)
		}
		// Revoking twice is fine; an unknown id is not found, of errkind's class.
		if err := svc.Revoke(ctx, auth.ActorOf(admin), user.ID); err != nil {
			t.Errorf("second revocation: %v", err)
		}
		err = svc.Revoke(ctx, auth.Operator, "tok_nope")
		if !errors.Is(err, store.ErrNotFound) || !errors.Is(err, errkind.ErrNotFound) {
			t.Errorf("unknown id: %v", err)
		}
	})
}
