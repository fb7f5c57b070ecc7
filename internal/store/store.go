package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/junctionhq/junction/internal/errkind"
)

// Sentinel errors every backend maps its driver errors onto, so callers can branch with
// errors.Is without knowing which database is underneath.
//
// Each wraps its class in package errkind, so that callers above the services (the HTTP
// server's error mapper) can tell the class without importing the store.
var (
	// ErrNotFound means the addressed row does not exist.
	ErrNotFound = fmt.Errorf("store: %w", errkind.ErrNotFound)
	// ErrConflict means a row with the same unique key already exists.
	ErrConflict = fmt.Errorf("store: %w", errkind.ErrConflict)
	// ErrUnavailable means the database failed rather than the request: it did not
	// answer in time, refused or dropped the connection, or could not do the work now
	// (locked, read-only, out of space). The same call may well succeed later, so the
	// server answers 503 with Retry-After. The driver's error stays in the chain.
	// Package deadline adds it; the backends themselves do not.
	ErrUnavailable = fmt.Errorf("store: %w", errkind.ErrUnavailable)
	// ErrLeaseLost means a write by the holder of a lease (a workflow run) was refused:
	// the lease expired and another process may have taken the work over.
	ErrLeaseLost = errors.New("store: lease lost")
)

// Role is what a bearer token may do. Admin can do everything a user can, plus
// administrative actions (token management, circuit resets, replays).
type Role string

// The roles a token can have.
const (
	RoleAdmin Role = "admin"
	RoleUser  Role = "user"
)

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool { return r == RoleAdmin || r == RoleUser }

// Token is an API token as stored: never the secret itself, only its hash.
type Token struct {
	ID        string     // public identifier, safe to show and to revoke by
	Name      string     // free text given at creation ("ci", "alice's laptop")
	Role      Role       // what the token may do
	Hash      []byte     // SHA-256 of the secret token string
	CreatedAt time.Time  // UTC
	RevokedAt *time.Time // nil while the token is valid
}

// Revoked reports whether the token has been revoked.
func (t Token) Revoked() bool { return t.RevokedAt != nil }

// TokenCreateParams are the columns of a new token row.
type TokenCreateParams struct {
	ID        string
	Name      string
	Role      Role
	Hash      []byte
	CreatedAt time.Time
}

// NewToken validates p and returns the token exactly as a backend stores and reads it
// back, so TokenCreate can return what later reads return. Both backends share it, so
// they accept the same input.
func NewToken(p TokenCreateParams) (Token, error) {
	switch {
	case p.ID == "":
		return Token{}, errors.New("empty id")
	case !p.Role.Valid():
		return Token{}, fmt.Errorf("invalid role %q", p.Role)
	case len(p.Hash) == 0:
		return Token{}, errors.New("empty hash")
	}
	if err := CheckTime(p.CreatedAt); err != nil {
		return Token{}, fmt.Errorf("created at: %w", err)
	}
	return Token{
		ID:        p.ID,
		Name:      p.Name,
		Role:      p.Role,
		Hash:      bytes.Clone(p.Hash),
		CreatedAt: NormalizeTime(p.CreatedAt),
	}, nil
}

// CheckTime rejects times a backend cannot store faithfully: SQLite's sortable text layout
// has four-digit years, and the zero time is almost certainly a caller's bug.
func CheckTime(t time.Time) error {
	if t.IsZero() {
		return errors.New("zero time")
	}
	if y := t.UTC().Year(); y < 1 || y > 9999 {
		return fmt.Errorf("year %d outside 1-9999", y)
	}
	return nil
}

// NormalizeTime keeps what every backend keeps: UTC at microsecond precision (PostgreSQL's
// timestamptz resolution).
func NormalizeTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// Migration is one versioned schema change and whether it has been applied.
type Migration struct {
	Version   int64
	Name      string     // file name of the migration, e.g. "00001_tokens.sql"
	AppliedAt *time.Time // nil while pending
}

// Store is Junction's durable state, implemented once per database (SQLite, PostgreSQL).
// Methods are named noun-then-verb. Every method is safe for concurrent use.
type Store interface {
	// Backend names the implementation: "sqlite" or "postgres".
	Backend() string
	// Ping checks that the database answers; /readyz uses it.
	Ping(ctx context.Context) error
	// Close releases the connection pool. The store is unusable afterwards.
	Close() error

	// MigrateUp applies every pending embedded migration, in version order, and returns
	// the ones it applied (empty when the schema was already current).
	MigrateUp(ctx context.Context) ([]Migration, error)
	// MigrateStatus lists every embedded migration with its applied time, if any.
	MigrateStatus(ctx context.Context) ([]Migration, error)

	// TokenCreate stores a new token. ErrConflict if the ID or hash already exists.
	TokenCreate(ctx context.Context, p TokenCreateParams) (Token, error)
	// TokenCreateIfNone stores p only if the tokens table holds no row at all (not even a
	// revoked one), atomically with respect to concurrent callers. It reports whether it
	// created the token. `serve` uses it to make the first admin token exactly once.
	TokenCreateIfNone(ctx context.Context, p TokenCreateParams) (bool, error)
	// TokenGetByHash finds a token by the hash of its secret, revoked or not.
	// ErrNotFound if no token has that hash.
	TokenGetByHash(ctx context.Context, hash []byte) (Token, error)
	// TokenList returns all tokens, oldest first, revoked ones included.
	TokenList(ctx context.Context) ([]Token, error)
	// TokenRevoke marks the token revoked at the given time. ErrNotFound if no token has
	// that ID; revoking an already revoked token is not an error and keeps the first time.
	TokenRevoke(ctx context.Context, id string, at time.Time) error

	WebhookStore
	FlowStore
	HandlerStore
	JobStore
	WorkflowStore
	ReportStore
	ClusterStore
	EventLogStore
	PluginStore
}
