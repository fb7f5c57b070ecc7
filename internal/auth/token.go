package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/junctionhq/junction/internal/store"
)

const (
	// SecretPrefix starts every token secret. It makes leaked secrets greppable and
	// recognisable by secret scanners, and lets malformed input be rejected cheaply.
	SecretPrefix = "jct_"
	// IDPrefix starts every token ID, so an ID is never mistaken for a secret.
	IDPrefix = "tok_"

	// FirstAdminName is the name EnsureFirstAdmin gives the bootstrap token.
	FirstAdminName = "first-admin"

	// MaxNameLen bounds a token name, in characters; names are labels, not documents.
	MaxNameLen = 100

	secretBytes = 32 // 256 bits: far beyond brute force, so a fast hash is enough
	idBytes     = 10 // 80 bits encode to exactly 16 base32 characters
)

// secretLen is the length of a well-formed secret: the prefix plus 43 base64url characters.
var secretLen = len(SecretPrefix) + base64.RawURLEncoding.EncodedLen(secretBytes)

// idEncoding is lower-case base32 without padding: case-insensitive-safe and easy to read
// aloud, unlike base64.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

var (
	// ErrUnauthenticated means the request carried no usable credential. Errors returned
	// by Authenticate wrap it with the reason (missing header, malformed, unknown token,
	// revoked token).
	ErrUnauthenticated = errors.New("not authenticated")
	// ErrInvalidRole means a role other than admin or user was asked for.
	ErrInvalidRole = errors.New("invalid role")
	// ErrInvalidName means a token name is empty, too long or contains control characters.
	ErrInvalidName = errors.New("invalid token name")
)

// HashSecret returns the value stored for a secret: SHA-256 of the full secret string,
// prefix included. Secrets carry 256 bits of entropy, so there is nothing for a slow
// password hash (bcrypt, argon2) to protect against; a fast hash keeps every request's
// authentication a single indexed lookup.
func HashSecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// newSecret returns a fresh token secret.
func newSecret() string {
	b := make([]byte, secretBytes)
	// crypto/rand.Read never returns an error since Go 1.24: it aborts the program
	// instead, because continuing without randomness would be worse.
	_, _ = rand.Read(b)
	return SecretPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// newID returns a fresh public token ID.
func newID() string {
	b := make([]byte, idBytes)
	_, _ = rand.Read(b)
	return IDPrefix + idEncoding.EncodeToString(b)
}

// ValidateName reports whether name is acceptable as a token name: empty (a token
// needs no name; lists show "-"), or not blank, at most MaxNameLen characters, valid
// UTF-8 and free of control characters (names end up in logs and terminals). The error
// wraps ErrInvalidName.
func ValidateName(name string) error {
	switch {
	case name == "":
		return nil
	case strings.TrimSpace(name) == "":
		return fmt.Errorf("%w: name is blank; leave it out for a token without a name", ErrInvalidName)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: name is not valid UTF-8", ErrInvalidName)
	case utf8.RuneCountInString(name) > MaxNameLen:
		return fmt.Errorf("%w: name is longer than %d characters", ErrInvalidName, MaxNameLen)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return fmt.Errorf("%w: name contains control characters", ErrInvalidName)
	}
	return nil
}

// Issue creates a token with the given role and name and returns its secret, which is
// shown to the caller once and never again. now is the creation time (stored in UTC).
func Issue(ctx context.Context, s TokenStore, role store.Role, name string, now time.Time) (secret string, tok store.Token, err error) {
	if !role.Valid() {
		return "", store.Token{}, fmt.Errorf("auth: issue token: %w %q (want %q or %q)", ErrInvalidRole, role, store.RoleAdmin, store.RoleUser)
	}
	if err := ValidateName(name); err != nil {
		return "", store.Token{}, fmt.Errorf("auth: issue token: %w", err)
	}
	secret = newSecret()
	tok, err = s.TokenCreate(ctx, store.TokenCreateParams{
		ID:        newID(),
		Name:      name,
		Role:      role,
		Hash:      HashSecret(secret),
		CreatedAt: now.UTC(),
	})
	if err != nil {
		return "", store.Token{}, fmt.Errorf("auth: issue token: %w", err)
	}
	return secret, tok, nil
}

// EnsureFirstAdmin creates an admin token named FirstAdminName if the store holds no
// token at all, and returns its secret with created=true. Once any token exists (even a
// revoked one) it does nothing and returns created=false, so a fresh install gets exactly
// one bootstrap credential and restarts never mint more.
func EnsureFirstAdmin(ctx context.Context, s TokenStore, now time.Time) (secret string, created bool, err error) {
	secret = newSecret()
	created, err = s.TokenCreateIfNone(ctx, store.TokenCreateParams{
		ID:        newID(),
		Name:      FirstAdminName,
		Role:      store.RoleAdmin,
		Hash:      HashSecret(secret),
		CreatedAt: now.UTC(),
	})
	if err != nil {
		return "", false, fmt.Errorf("auth: ensure first admin token: %w", err)
	}
	if !created {
		return "", false, nil
	}
	return secret, true, nil
}

// Authenticate checks the value of an Authorization header ("Bearer <secret>", scheme
// matched case-insensitively) and returns the token it names. Every rejection wraps
// ErrUnauthenticated with a short reason; the reason never echoes the presented secret.
// Other errors (the store failing) are returned wrapped as they are, so callers can tell
// "bad credential" from "could not check".
//
// Timing: the secret is never compared byte by byte against stored data. It is hashed
// and looked up by hash, so lookup time does not depend on how much of a guess was right;
// the final comparison is constant-time as well, in case a backend matched loosely.
func Authenticate(ctx context.Context, s TokenStore, authorizationHeader string) (store.Token, error) {
	secret, err := parseBearer(authorizationHeader)
	if err != nil {
		return store.Token{}, err
	}
	hash := HashSecret(secret)
	tok, err := s.TokenGetByHash(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return store.Token{}, fmt.Errorf("%w: unknown token", ErrUnauthenticated)
	}
	if err != nil {
		return store.Token{}, fmt.Errorf("auth: look up token: %w", err)
	}
	if subtle.ConstantTimeCompare(tok.Hash, hash) != 1 {
		return store.Token{}, fmt.Errorf("%w: unknown token", ErrUnauthenticated)
	}
	if tok.Revoked() {
		return store.Token{}, fmt.Errorf("%w: token revoked", ErrUnauthenticated)
	}
	return tok, nil
}

// TokenNamed returns the one active (not revoked) token named name: how a client
// certificate, whose subject CN is name, is authenticated. An empty name, no such token
// and several active tokens of that name (which one would it be?) all wrap
// ErrUnauthenticated with the reason.
func TokenNamed(ctx context.Context, s TokenStore, name string) (store.Token, error) {
	if name == "" {
		return store.Token{}, fmt.Errorf("%w: the client certificate has no subject common name (CN) to name an API token by", ErrUnauthenticated)
	}
	toks, err := s.TokenList(ctx)
	if err != nil {
		return store.Token{}, fmt.Errorf("auth: look up token: %w", err)
	}
	var found []store.Token
	for _, t := range toks {
		if t.Name == name && !t.Revoked() {
			found = append(found, t)
		}
	}
	switch len(found) {
	case 0:
		return store.Token{}, fmt.Errorf("%w: the client certificate's subject CN %q names no active API token", ErrUnauthenticated, name)
	case 1:
		return found[0], nil
	default:
		return store.Token{}, fmt.Errorf("%w: the client certificate's subject CN %q names %d active API tokens; give the token a name of its own", ErrUnauthenticated, name, len(found))
	}
}

// parseBearer extracts a well-formed secret from an Authorization header value.
func parseBearer(header string) (string, error) {
	header = strings.TrimSpace(header)
	if header == "" {
		return "", fmt.Errorf("%w: missing Authorization header", ErrUnauthenticated)
	}
	scheme, rest, _ := strings.Cut(header, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", fmt.Errorf("%w: malformed Authorization header: scheme must be Bearer", ErrUnauthenticated)
	}
	secret := strings.TrimLeft(rest, " ")
	if secret == "" {
		return "", fmt.Errorf("%w: malformed Authorization header: no token after Bearer", ErrUnauthenticated)
	}
	if !wellFormedSecret(secret) {
		return "", fmt.Errorf("%w: malformed token: want %s followed by %d base64url characters", ErrUnauthenticated, SecretPrefix, secretLen-len(SecretPrefix))
	}
	return secret, nil
}

// wellFormedSecret reports whether s has the shape of a secret made by newSecret.
func wellFormedSecret(s string) bool {
	if len(s) != secretLen || !strings.HasPrefix(s, SecretPrefix) {
		return false
	}
	for i := len(SecretPrefix); i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Allows reports whether a token with role have may perform an action that needs role
// need. Admin includes user; an unknown role on either side allows nothing.
func Allows(have, need store.Role) bool {
	if !have.Valid() || !need.Valid() {
		return false
	}
	return have == store.RoleAdmin || have == need
}
