package credential

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/sync/singleflight"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/redact"
)

const (
	// refreshMargin is how long before its expiry a cached token is replaced, so a token
	// does not expire between Apply and the upstream checking it (clock skew, slow
	// networks, retries).
	refreshMargin = 30 * time.Second
	// tokenFetchTimeout bounds one token request even when the caller's HTTP client has
	// no timeout: the request is shared by every waiting call and outlives any one of
	// them, so no caller's context can be its deadline.
	tokenFetchTimeout = time.Minute
)

// oauth2Client is the OAuth2 client credentials grant (RFC 6749 §4.4) with a token cache.
//
// x/oauth2's own TokenSource caches too, but it cannot be told to drop a token the
// upstream rejected, it reads the wall clock (tests and Junction's policies use
// clock.Clock), and its refresh margin is fixed at 10 s; so only the token request itself
// is delegated to clientcredentials.Config.
type oauth2Client struct {
	conf       *clientcredentials.Config // shared: it caches the detected client auth style
	tokenURL   string                    // for error messages; never holds a secret
	scrubber   *redact.Scrubber          // the client secret, for error messages
	httpClient *http.Client
	clock      clock.Clock

	group singleflight.Group // one token request at a time, whoever asks

	mu  sync.Mutex
	tok *cachedToken // nil when there is none or it was rejected
}

// cachedToken is a token with the time, on o.clock, from which it is replaced.
type cachedToken struct {
	header    string    // the Authorization header value, e.g. "Bearer abc"
	token     string    // the access token in it
	refreshAt time.Time // zero: no expiry given, keep it until the upstream rejects it
}

func newOAuth2(r *resolver, a *config.Auth, opts Options) (Applier, error) {
	tokenURL := r.required("token_url", a.TokenURL)
	id := r.required("client_id", a.ClientID)
	secret := r.required("client_secret", a.ClientSecret)
	if r.err != nil {
		return nil, r.err
	}
	u, err := url.Parse(tokenURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("auth token_url %q is not an http(s) URL", redact.URL(tokenURL))
	}
	return &oauth2Client{
		conf: &clientcredentials.Config{
			ClientID:     id,
			ClientSecret: secret,
			TokenURL:     tokenURL,
			Scopes:       append([]string(nil), a.Scopes...),
		},
		tokenURL:   redact.URL(tokenURL),
		scrubber:   redact.NewScrubber(secret),
		httpClient: opts.HTTPClient,
		clock:      opts.Clock,
	}, nil
}

// Apply sets Authorization from the cached token, fetching one first when there is none
// or it is due for refresh.
func (o *oauth2Client) Apply(ctx context.Context, req *http.Request, _ []byte) error {
	h, err := o.token(ctx)
	if err != nil {
		return fmt.Errorf("credential: oauth2: %w", err)
	}
	req.Header.Set("Authorization", h)
	return nil
}

// Rejected drops the token req carried if it is still the cached one, so the next Apply
// fetches a new token. Comparing with the cache, rather than clearing it blindly, makes
// a burst of 401s for one stale token cost a single refresh: the first report clears it,
// the others find it already replaced. It reports true when req carried a token from this
// applier: the retry will carry a different one (callers retry a request at most once).
func (o *oauth2Client) Rejected(_ context.Context, req *http.Request) bool {
	h := req.Header.Get("Authorization")
	if h == "" {
		return false // not a request this applier prepared
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.tok != nil && o.tok.header == h {
		o.tok = nil
	}
	return true
}

// cached returns the cached Authorization value if it is not due for refresh.
func (o *oauth2Client) cached() (string, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.tok == nil {
		return "", false
	}
	if !o.tok.refreshAt.IsZero() && !o.clock.Now().Before(o.tok.refreshAt) {
		return "", false
	}
	return o.tok.header, true
}

// token returns a usable Authorization value. Concurrent callers that find the cache
// empty or stale share one token request (singleflight); each waits for it only as long
// as its own context allows, while the request itself runs on a context detached from
// any one caller, so a caller giving up does not fail the others.
func (o *oauth2Client) token(ctx context.Context) (string, error) {
	if h, ok := o.cached(); ok {
		return h, nil
	}
	ch := o.group.DoChan("token", func() (any, error) {
		// Checked again inside the flight: a caller that missed the cache just as the
		// previous flight finished must not start a second token request.
		if h, ok := o.cached(); ok {
			return h, nil
		}
		return o.fetch(context.WithoutCancel(ctx))
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return "", res.Err
		}
		return res.Val.(string), nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// fetch makes one token request and caches the result.
func (o *oauth2Client) fetch(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, tokenFetchTimeout)
	defer cancel()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, o.httpClient)
	// The lifetime counts from before the request: the server's clock started it no
	// later than when it answered, so this errs on the side of refreshing early.
	start := o.clock.Now()
	tok, err := o.conf.Token(ctx)
	if err != nil {
		return "", o.tokenError(err)
	}
	ct := &cachedToken{header: tok.Type() + " " + tok.AccessToken, token: tok.AccessToken}
	if life := lifetime(tok); life > 0 {
		margin := refreshMargin
		if margin > life/2 {
			// A token living under a minute would otherwise be stale on arrival and
			// every Apply would fetch a new one; use it for the first half of its life.
			margin = life / 2
		}
		ct.refreshAt = start.Add(life - margin)
	}
	o.mu.Lock()
	o.tok = ct
	o.mu.Unlock()
	return ct.header, nil
}

// lifetime is the token's expires_in. x/oauth2 turns expires_in into an Expiry on the wall
// clock and drops the number; the raw field is read back so the expiry can be placed on
// o.clock exactly. Some servers send it as a string.
func lifetime(tok *oauth2.Token) time.Duration {
	var secs int64
	switch v := tok.Extra("expires_in").(type) {
	case float64:
		secs = int64(v)
	case string:
		secs, _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	default:
		if !tok.Expiry.IsZero() {
			return time.Until(tok.Expiry)
		}
	}
	if secs <= 0 {
		return 0
	}
	return time.Duration(secs) * time.Second
}

// TokenError is a failed token request. It deliberately keeps no reference to the
// *oauth2.RetrieveError: that holds the token response, whose Request carries the client
// secret in its Authorization header, and anyone unwrapping or dumping the error could
// print it.
type TokenError struct {
	URL         string // the token endpoint, without query or user info
	StatusCode  int    // 0 when no HTTP answer arrived
	Status      string // e.g. "401 Unauthorized"
	Code        string // RFC 6749 §5.2 error code, e.g. "invalid_client"; may be empty
	Description string // error_description, scrubbed of the client secret
	Err         error  // a transport or decoding error; nil for an error answer
}

func (e *TokenError) Error() string {
	var b strings.Builder
	b.WriteString("token endpoint " + e.URL + " failed")
	if e.Status != "" {
		b.WriteString(": " + e.Status)
	}
	if e.Code != "" {
		b.WriteString(": " + e.Code)
		if e.Description != "" {
			b.WriteString(" (" + e.Description + ")")
		}
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

// Unwrap gives access to transport errors, e.g. context.DeadlineExceeded.
func (e *TokenError) Unwrap() error { return e.Err }

// tokenError converts a token request failure into a *TokenError free of the secret.
func (o *oauth2Client) tokenError(err error) error {
	te := &TokenError{URL: o.tokenURL}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.Response != nil {
			te.StatusCode, te.Status = re.Response.StatusCode, re.Response.Status
		}
		te.Code = o.scrubber.String(re.ErrorCode)
		te.Description = o.scrubber.String(re.ErrorDescription)
		if len(te.Description) > 200 {
			te.Description = te.Description[:200] + "…"
		}
		return te
	}
	// Transport errors name the URL (redacted, in case the token URL carries a query)
	// and the cause, never the form body; scrub anyway, in case an endpoint or proxy
	// echoes what it was sent.
	te.Err = o.scrubber.Error(redact.Error(err))
	return te
}

// Secrets are the client secret and the access token now cached.
func (o *oauth2Client) Secrets() []string {
	out := []string{o.conf.ClientSecret}
	o.mu.Lock()
	if o.tok != nil {
		out = append(out, o.tok.token)
	}
	o.mu.Unlock()
	return out
}

func (o *oauth2Client) String() string   { return string(config.AuthOAuth2) }
func (o *oauth2Client) GoString() string { return o.String() }
