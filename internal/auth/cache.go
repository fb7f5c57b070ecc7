package auth

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"

	"github.com/junctionhq/junction/internal/store"
)

// Authenticator checks bearer tokens like Authenticate, remembering valid tokens for a
// short time so that the gateway's hot path does not query storage on every request.
//
// Only successes are remembered: a token created a moment ago (by `junction token
// create`, in another process) works at once. A revocation made through the same
// Authenticator (Forget) takes effect at once; one made elsewhere (another process, the
// CLI) takes effect within the TTL.
type Authenticator struct {
	store TokenStore
	ttl   time.Duration
	now   func() time.Time

	mu      sync.Mutex
	entries map[[sha256.Size]byte]cached
	names   map[string]cached // by token name, for client certificates (AuthenticateName)
}

type cached struct {
	tok     store.Token
	expires time.Time
}

// CacheTTLDefault is how long a checked token is trusted without asking storage again.
const CacheTTLDefault = 5 * time.Second

// cacheMaxEntries bounds the memory a flood of distinct valid tokens could take.
const cacheMaxEntries = 10_000

// NewAuthenticator returns an Authenticator over s; ttl <= 0 disables remembering.
func NewAuthenticator(s TokenStore, ttl time.Duration, now func() time.Time) *Authenticator {
	if now == nil {
		now = time.Now
	}
	return &Authenticator{store: s, ttl: ttl, now: now, entries: map[[sha256.Size]byte]cached{}, names: map[string]cached{}}
}

// Authenticate checks an Authorization header value.
func (a *Authenticator) Authenticate(ctx context.Context, authorizationHeader string) (store.Token, error) {
	secret, err := parseBearer(authorizationHeader)
	if err != nil {
		return store.Token{}, err
	}
	key := sha256.Sum256([]byte(secret))
	now := a.now()
	a.mu.Lock()
	c, ok := a.entries[key]
	a.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.tok, nil
	}
	tok, err := Authenticate(ctx, a.store, authorizationHeader)
	if err != nil || a.ttl <= 0 {
		return tok, err
	}
	a.mu.Lock()
	if len(a.entries) >= cacheMaxEntries {
		for k := range a.entries { // drop an arbitrary entry; it is only a cache
			delete(a.entries, k)
			break
		}
	}
	a.entries[key] = cached{tok: tok, expires: now.Add(a.ttl)}
	a.mu.Unlock()
	return tok, nil
}

// AuthenticateName returns the one active token with this name: the identity of a
// client certificate whose subject CN is name (see the package documentation). Like
// Authenticate, it remembers a success for the TTL.
func (a *Authenticator) AuthenticateName(ctx context.Context, name string) (store.Token, error) {
	now := a.now()
	a.mu.Lock()
	c, ok := a.names[name]
	a.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.tok, nil
	}
	tok, err := TokenNamed(ctx, a.store, name)
	if err != nil || a.ttl <= 0 {
		return tok, err
	}
	a.mu.Lock()
	if len(a.names) >= cacheMaxEntries {
		for k := range a.names {
			delete(a.names, k)
			break
		}
	}
	a.names[name] = cached{tok: tok, expires: now.Add(a.ttl)}
	a.mu.Unlock()
	return tok, nil
}

// Forget drops the remembered token with this ID, so its revocation applies at once.
func (a *Authenticator) Forget(tokenID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, c := range a.entries {
		if c.tok.ID == tokenID {
			delete(a.entries, k)
		}
	}
	for k, c := range a.names {
		if c.tok.ID == tokenID {
			delete(a.names, k)
		}
	}
}
