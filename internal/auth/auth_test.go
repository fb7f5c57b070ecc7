package auth_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/junctionhq/junction/internal/auth"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/sqlite"
)

// The SQLite store runs database/sql pool goroutines; every test must close it.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	secretRE = regexp.MustCompile(`^jct_[A-Za-z0-9_-]{43}$`)
	idRE     = regexp.MustCompile(`^tok_[a-z2-7]{16}$`)
	now      = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)
)

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "junction.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if _, err := s.MigrateUp(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}

func TestIssue(t *testing.T) {
	tests := []struct {
		name    string
		role    store.Role
		tokName string
		wantErr error
	}{
		{"admin", store.RoleAdmin, "ci", nil},
		{"user", store.RoleUser, "alice's laptop", nil},
		{"unicode name", store.RoleUser, "Zoë ✓", nil},
		{"empty role", "", "ci", auth.ErrInvalidRole},
		{"unknown role", "root", "ci", auth.ErrInvalidRole},
		{"role is case-sensitive", "Admin", "ci", auth.ErrInvalidRole},
		{"no name", store.RoleUser, "", nil},
		{"blank name", store.RoleUser, "  \t", auth.ErrInvalidName},
		{"control characters", store.RoleUser, "a\nb", auth.ErrInvalidName},
		{"too long", store.RoleUser, strings.Repeat("x", auth.MaxNameLen+1), auth.ErrInvalidName},
		{"invalid UTF-8", store.RoleUser, "a\xffb", auth.ErrInvalidName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s := openStore(t)
			secret, tok, err := auth.Issue(ctx, s, tt.role, tt.tokName, now)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Issue error = %v, want %v", err, tt.wantErr)
				}
				if secret != "" {
					t.Errorf("secret returned with error")
				}
				list, _ := s.TokenList(ctx)
				if len(list) != 0 {
					t.Errorf("store holds %d tokens after failed Issue", len(list))
				}
				return
			}
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			if !secretRE.MatchString(secret) {
				t.Errorf("secret %q does not match %s", secret, secretRE)
			}
			if !idRE.MatchString(tok.ID) {
				t.Errorf("ID %q does not match %s", tok.ID, idRE)
			}
			if tok.Role != tt.role || tok.Name != tt.tokName || !tok.CreatedAt.Equal(now) || tok.Revoked() {
				t.Errorf("token = %+v", tok)
			}
			sum := sha256.Sum256([]byte(secret))
			if !bytes.Equal(tok.Hash, sum[:]) || !bytes.Equal(auth.HashSecret(secret), sum[:]) {
				t.Errorf("stored hash is not SHA-256 of the secret")
			}
			got, err := s.TokenGetByHash(ctx, sum[:])
			if err != nil || got.ID != tok.ID {
				t.Errorf("TokenGetByHash = %+v, %v", got, err)
			}
		})
	}
}

func TestIssueUnique(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	secrets, ids := map[string]bool{}, map[string]bool{}
	for range 50 {
		secret, tok, err := auth.Issue(ctx, s, store.RoleUser, "n", now)
		if err != nil {
			t.Fatal(err)
		}
		if secrets[secret] || ids[tok.ID] {
			t.Fatalf("duplicate secret or id")
		}
		secrets[secret], ids[tok.ID] = true, true
	}
}

func TestEnsureFirstAdmin(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)

	secret, created, err := auth.EnsureFirstAdmin(ctx, s, now)
	if err != nil || !created || !secretRE.MatchString(secret) {
		t.Fatalf("first EnsureFirstAdmin = %q, %v, %v", secret, created, err)
	}
	tok, err := auth.Authenticate(ctx, s, "Bearer "+secret)
	if err != nil {
		t.Fatalf("authenticate first admin: %v", err)
	}
	if tok.Role != store.RoleAdmin || tok.Name != auth.FirstAdminName {
		t.Errorf("first admin = %+v", tok)
	}

	again, created, err := auth.EnsureFirstAdmin(ctx, s, now)
	if err != nil || created || again != "" {
		t.Fatalf("second EnsureFirstAdmin = %q, %v, %v; want no new token", again, created, err)
	}

	// A revoked token still counts: revoking the bootstrap token must not re-arm it.
	if err := s.TokenRevoke(ctx, tok.ID, now); err != nil {
		t.Fatal(err)
	}
	if _, created, err := auth.EnsureFirstAdmin(ctx, s, now); err != nil || created {
		t.Fatalf("EnsureFirstAdmin after revoke: created=%v err=%v", created, err)
	}
	list, err := s.TokenList(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("TokenList = %d tokens, %v; want 1", len(list), err)
	}
}

func TestEnsureFirstAdminSkipsWhenTokensExist(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	if _, _, err := auth.Issue(ctx, s, store.RoleUser, "existing", now); err != nil {
		t.Fatal(err)
	}
	if secret, created, err := auth.EnsureFirstAdmin(ctx, s, now); err != nil || created || secret != "" {
		t.Fatalf("EnsureFirstAdmin = %q, %v, %v", secret, created, err)
	}
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	userSecret, userTok, err := auth.Issue(ctx, s, store.RoleUser, "user", now)
	if err != nil {
		t.Fatal(err)
	}
	revokedSecret, revokedTok, err := auth.Issue(ctx, s, store.RoleAdmin, "old", now)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.TokenRevoke(ctx, revokedTok.ID, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Well-formed but never issued.
	unknownSecret := "jct_" + strings.Repeat("A", 43)

	tests := []struct {
		name       string
		header     string
		wantID     string // empty: want an error
		wantReason string
	}{
		{"valid", "Bearer " + userSecret, userTok.ID, ""},
		{"scheme lower case", "bearer " + userSecret, userTok.ID, ""},
		{"scheme upper case", "BEARER " + userSecret, userTok.ID, ""},
		{"extra spaces", "Bearer    " + userSecret + "  ", userTok.ID, ""},
		{"missing", "", "", "missing Authorization header"},
		{"blank", "   ", "", "missing Authorization header"},
		{"basic scheme", "Basic dXNlcjpwYXNz", "", "scheme must be Bearer"},
		{"no scheme", userSecret, "", "scheme must be Bearer"},
		{"scheme only", "Bearer", "", "no token after Bearer"},
		{"scheme and spaces", "Bearer   ", "", "no token after Bearer"},
		{"wrong prefix", "Bearer xyz_" + userSecret[4:], "", "malformed token"},
		{"too short", "Bearer " + userSecret[:20], "", "malformed token"},
		{"too long", "Bearer " + userSecret + "A", "", "malformed token"},
		{"bad characters", "Bearer jct_" + strings.Repeat("+", 43), "", "malformed token"},
		{"two tokens", "Bearer " + userSecret + " " + userSecret, "", "malformed token"},
		{"unknown", "Bearer " + unknownSecret, "", "unknown token"},
		{"revoked", "Bearer " + revokedSecret, "", "token revoked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := auth.Authenticate(ctx, s, tt.header)
			if tt.wantID != "" {
				if err != nil {
					t.Fatalf("Authenticate: %v", err)
				}
				if tok.ID != tt.wantID {
					t.Fatalf("token ID = %s, want %s", tok.ID, tt.wantID)
				}
				return
			}
			if !errors.Is(err, auth.ErrUnauthenticated) {
				t.Fatalf("error = %v, want ErrUnauthenticated", err)
			}
			if !strings.Contains(err.Error(), tt.wantReason) {
				t.Errorf("error %q does not give reason %q", err, tt.wantReason)
			}
			for _, secret := range []string{userSecret, revokedSecret, unknownSecret} {
				if strings.Contains(err.Error(), secret[4:]) {
					t.Errorf("error %q echoes a secret", err)
				}
			}
			if tok.ID != "" {
				t.Errorf("token returned with error: %+v", tok)
			}
		})
	}
}

// A store that fails is "could not check", not "bad credential": callers answer 5xx.
func TestAuthenticateStoreFailure(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	secret, _, err := auth.Issue(ctx, s, store.RoleUser, "u", now)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = auth.Authenticate(ctx, s, "Bearer "+secret)
	if err == nil || errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("error = %v, want a non-authentication error", err)
	}
}

func TestAllows(t *testing.T) {
	tests := []struct {
		have, need store.Role
		want       bool
	}{
		{store.RoleAdmin, store.RoleAdmin, true},
		{store.RoleAdmin, store.RoleUser, true},
		{store.RoleUser, store.RoleUser, true},
		{store.RoleUser, store.RoleAdmin, false},
		{"", store.RoleUser, false},
		{"root", store.RoleUser, false},
		{store.RoleAdmin, "", false},
		{store.RoleAdmin, "root", false},
	}
	for _, tt := range tests {
		if got := auth.Allows(tt.have, tt.need); got != tt.want {
			t.Errorf("Allows(%q, %q) = %v, want %v", tt.have, tt.need, got, tt.want)
		}
	}
}
