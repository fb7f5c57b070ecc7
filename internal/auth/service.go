package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/junctionhq/junction/internal/store"
)

// Role and Token are the store's types, named here so that users of the token service
// (the HTTP server, the CLI) need not import the store.
type (
	Role  = store.Role
	Token = store.Token
)

// The roles a token can have.
const (
	RoleAdmin = store.RoleAdmin
	RoleUser  = store.RoleUser
)

// TokenStore is the storage the token functions and the Service need (store.Store has it).
type TokenStore interface {
	TokenCreate(ctx context.Context, p store.TokenCreateParams) (store.Token, error)
	TokenCreateIfNone(ctx context.Context, p store.TokenCreateParams) (bool, error)
	TokenGetByHash(ctx context.Context, hash []byte) (store.Token, error)
	TokenList(ctx context.Context) ([]store.Token, error)
	TokenRevoke(ctx context.Context, id string, at time.Time) error
}

// Actor is who asks the Service for something: the token of an HTTP request, or the
// Operator.
type Actor struct {
	TokenID string // "" for the Operator
	Role    Role
}

// Operator is the person at the command line (`junction token …`): they hold the
// database itself, so they act as an admin without a token of their own.
var Operator = Actor{Role: RoleAdmin}

// ActorOf is the actor a token stands for.
func ActorOf(t Token) Actor { return Actor{TokenID: t.ID, Role: t.Role} }

// ErrRevokeSelf refuses a token's revocation of itself. Junction mints a bootstrap admin
// token only while the token table is empty, so an admin that revoked its own last admin
// token would lock everyone out of the API; another admin token (or the Operator) may.
var ErrRevokeSelf = errors.New("a token cannot revoke itself; use another admin token")

// RoleError refuses an action to an actor whose role does not allow it.
type RoleError struct {
	Need, Have Role
}

func (e *RoleError) Error() string {
	return fmt.Sprintf("this needs a token with role %q; this token has role %q", e.Need, e.Have)
}

// FieldError is one offending field of a token request.
type FieldError struct {
	Field  string // "role", "name"
	Detail string
}

// ValidationError lists what is wrong with a token request, field by field, in the
// order of the request's fields, all at once so a caller can fix everything in one go.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Detail
	}
	return "invalid token request: " + strings.Join(parts, "; ")
}

// Service is the one way to manage tokens: every caller (the HTTP API, the CLI) goes
// through it, so its rules hold for all of them. It authenticates requests too,
// remembering valid tokens briefly (see Authenticator); a revocation through it applies
// at once.
type Service struct {
	store TokenStore
	now   func() time.Time
	cache *Authenticator
}

// NewService returns the token service over st. now is the clock (time.Now when nil):
// creation and revocation times, and the authentication cache's expiry.
func NewService(st TokenStore, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: st, now: now, cache: NewAuthenticator(st, CacheTTLDefault, now)}
}

// Authenticate checks the value of an Authorization header; see Authenticate.
func (s *Service) Authenticate(ctx context.Context, authorizationHeader string) (Token, error) {
	return s.cache.Authenticate(ctx, authorizationHeader)
}

// AuthenticateName authenticates a verified client certificate by its subject CN: the
// one active token of that name; see TokenNamed.
func (s *Service) AuthenticateName(ctx context.Context, name string) (Token, error) {
	return s.cache.AuthenticateName(ctx, name)
}

// Create issues a token with the given role and name (see ValidateName) and returns its
// secret, shown this once and never again. Only admins create tokens; an invalid role
// or name is a *ValidationError naming each.
func (s *Service) Create(ctx context.Context, by Actor, role Role, name string) (secret string, tok Token, err error) {
	if err := allow(by, RoleAdmin); err != nil {
		return "", Token{}, err
	}
	var v ValidationError
	switch {
	case role == "":
		v.Fields = append(v.Fields, FieldError{"role", fmt.Sprintf("role is required: %q or %q", RoleAdmin, RoleUser)})
	case !role.Valid():
		v.Fields = append(v.Fields, FieldError{"role", fmt.Sprintf("role must be %q or %q, not %q", RoleAdmin, RoleUser, role)})
	}
	if err := ValidateName(name); err != nil {
		v.Fields = append(v.Fields, FieldError{"name", strings.TrimPrefix(err.Error(), ErrInvalidName.Error()+": ")})
	}
	if len(v.Fields) > 0 {
		return "", Token{}, &v
	}
	return Issue(ctx, s.store, role, name, s.now())
}

// List returns every token, oldest first, revoked ones included. Only admins list tokens.
func (s *Service) List(ctx context.Context, by Actor) ([]Token, error) {
	if err := allow(by, RoleAdmin); err != nil {
		return nil, err
	}
	toks, err := s.store.TokenList(ctx)
	if err != nil {
		return nil, fmt.Errorf("auth: list tokens: %w", err)
	}
	return toks, nil
}

// Revoke revokes the token with this ID; revoking a revoked token succeeds and keeps
// the first time. Only admins revoke tokens, and a token never revokes itself
// (ErrRevokeSelf). An unknown ID is store.ErrNotFound.
func (s *Service) Revoke(ctx context.Context, by Actor, id string) error {
	if err := allow(by, RoleAdmin); err != nil {
		return err
	}
	if by.TokenID != "" && by.TokenID == id {
		return ErrRevokeSelf
	}
	if err := s.store.TokenRevoke(ctx, id, s.now().UTC()); err != nil {
		return fmt.Errorf("auth: revoke token %s: %w", id, err)
	}
	s.cache.Forget(id)
	return nil
}

// EnsureFirstAdmin makes the bootstrap admin token when there is no token; see the
// function EnsureFirstAdmin.
func (s *Service) EnsureFirstAdmin(ctx context.Context) (secret string, created bool, err error) {
	return EnsureFirstAdmin(ctx, s.store, s.now())
}

func allow(by Actor, need Role) error {
	if !Allows(by.Role, need) {
		return &RoleError{Need: need, Have: by.Role}
	}
	return nil
}
