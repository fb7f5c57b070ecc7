package credential_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/credential"
)

const (
	clientID     = "junction-client"
	clientSecret = "cl13nt-s3cr3t/+=" // characters that form-encoding changes
)

// authServer fakes an OAuth2 authorization server's token endpoint (RFC 6749 §4.4: the
// client credentials grant) and a resource server that accepts the tokens it issued.
type authServer struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	expiresIn int // seconds; 0 leaves expires_in out of the answer
	requests  int // token requests received, failed ones included
	scopes    []string
	next      int
	valid     map[string]bool                                   // tokens the resource server accepts
	gate      chan struct{}                                     // when set, token answers wait for it to close
	arrived   chan struct{}                                     // receives once per token request, before the gate
	fail      func(w http.ResponseWriter, r *http.Request) bool // true: it answered
}

func newAuthServer(t *testing.T, expiresIn int) *authServer {
	t.Helper()
	as := &authServer{t: t, expiresIn: expiresIn, valid: map[string]bool{}, arrived: make(chan struct{}, 100)}
	mux := http.NewServeMux()
	mux.HandleFunc("/oauth/token", as.token)
	mux.HandleFunc("/api/", as.api)
	as.srv = httptest.NewServer(mux)
	t.Cleanup(as.srv.Close)
	return as
}

func (as *authServer) tokenURL() string { return as.srv.URL + "/oauth/token" }

func (as *authServer) oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="token"`)
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// token is the token endpoint, as strict as RFC 6749 asks.
func (as *authServer) token(w http.ResponseWriter, r *http.Request) {
	as.mu.Lock()
	as.requests++
	gate, fail := as.gate, as.fail
	as.mu.Unlock()
	as.arrived <- struct{}{}
	if gate != nil {
		<-gate
	}
	if fail != nil && fail(w, r) {
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-www-form-urlencoded" {
		as.oauthError(w, http.StatusBadRequest, "invalid_request", "expected a form body")
		return
	}
	if err := r.ParseForm(); err != nil {
		as.oauthError(w, http.StatusBadRequest, "invalid_request", "unreadable form")
		return
	}
	if r.PostForm.Get("grant_type") != "client_credentials" {
		as.oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "")
		return
	}
	// §2.3.1: HTTP Basic with the form-encoded id and secret, or both in the body; a
	// client must not use both.
	id, secret, basic := r.BasicAuth()
	if basic {
		if r.PostForm.Has("client_secret") {
			as.oauthError(w, http.StatusBadRequest, "invalid_request", "more than one client authentication method")
			return
		}
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != clientID || secret != clientSecret {
		as.oauthError(w, http.StatusUnauthorized, "invalid_client", "Client authentication failed")
		return
	}
	as.mu.Lock()
	as.next++
	tok := fmt.Sprintf("tok-%d", as.next)
	as.valid[tok] = true
	as.scopes = strings.Fields(r.PostForm.Get("scope"))
	answer := map[string]any{"access_token": tok, "token_type": "bearer"} // lower case, as many servers send it
	if as.expiresIn > 0 {
		answer["expires_in"] = as.expiresIn
	}
	as.mu.Unlock()
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	_ = json.NewEncoder(w).Encode(answer)
}

// api is the resource server: 401 unless the bearer token is one it still accepts.
func (as *authServer) api(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	as.mu.Lock()
	ok = ok && as.valid[tok]
	as.mu.Unlock()
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (as *authServer) tokenRequests() int {
	as.mu.Lock()
	defer as.mu.Unlock()
	return as.requests
}

// revoke makes the resource server refuse tok, as after a key rotation.
func (as *authServer) revoke(tok string) {
	as.mu.Lock()
	defer as.mu.Unlock()
	delete(as.valid, tok)
}

func (as *authServer) applier(t *testing.T, clk clock.Clock, secret string, scopes ...string) credential.Applier {
	t.Helper()
	return mustNew(t, &config.Auth{
		Kind:         config.AuthOAuth2,
		TokenURL:     lit(as.tokenURL()),
		ClientID:     envVal("CLIENT_ID"),
		ClientSecret: envVal("CLIENT_SECRET"),
		Scopes:       scopes,
	}, map[string]string{"CLIENT_ID": clientID, "CLIENT_SECRET": secret}, credential.Options{HTTPClient: as.srv.Client(), Clock: clk})
}

// prepare returns a request to the resource server with ap's credentials.
func (as *authServer) prepare(t *testing.T, ap credential.Applier) (*http.Request, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, as.srv.URL+"/api/things", nil)
	if err != nil {
		t.Fatal(err)
	}
	return req, ap.Apply(context.Background(), req, nil)
}

func (as *authServer) do(t *testing.T, req *http.Request) int {
	resp, err := as.srv.Client().Do(req)
	if err != nil {
		t.Error(err)
		return 0
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func mustPrepare(t *testing.T, as *authServer, ap credential.Applier) *http.Request {
	t.Helper()
	req, err := as.prepare(t, ap)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return req
}

func wantToken(t *testing.T, req *http.Request, tok string) {
	t.Helper()
	if h := req.Header.Get("Authorization"); h != "Bearer "+tok {
		t.Errorf("Authorization = %q, want %q", h, "Bearer "+tok)
	}
}

func TestOAuth2ConcurrentFirstUseMakesOneTokenRequest(t *testing.T) {
	as := newAuthServer(t, 3600)
	as.gate = make(chan struct{})
	ap := as.applier(t, clock.NewFake(start), clientSecret, "read", "write")

	const n = 50
	var wg sync.WaitGroup
	statuses := make(chan int, n)
	for range n {
		wg.Go(func() {
			req, err := as.prepare(t, ap)
			if err != nil {
				t.Errorf("Apply: %v", err)
				return
			}
			statuses <- as.do(t, req)
		})
	}
	<-as.arrived // the first token request is being answered; hold it while others queue
	close(as.gate)
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != http.StatusOK {
			t.Errorf("resource server answered %d", s)
		}
	}
	if got := as.tokenRequests(); got != 1 {
		t.Errorf("token requests = %d, want 1", got)
	}
	if got := strings.Join(as.scopes, " "); got != "read write" {
		t.Errorf("scopes = %q", got)
	}
}

func TestOAuth2RefreshesThirtySecondsBeforeExpiry(t *testing.T) {
	as := newAuthServer(t, 3600)
	clk := clock.NewFake(start)
	ap := as.applier(t, clk, clientSecret)

	wantToken(t, mustPrepare(t, as, ap), "tok-1")
	clk.Advance(3600*time.Second - 30*time.Second - time.Second)
	wantToken(t, mustPrepare(t, as, ap), "tok-1")
	if got := as.tokenRequests(); got != 1 {
		t.Fatalf("token requests = %d before the refresh point, want 1", got)
	}

	clk.Advance(time.Second) // now exactly 30 s before expiry
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			req, err := as.prepare(t, ap)
			if err != nil {
				t.Errorf("Apply: %v", err)
				return
			}
			wantToken(t, req, "tok-2")
		})
	}
	wg.Wait()
	if got := as.tokenRequests(); got != 2 {
		t.Errorf("token requests = %d after the refresh point, want 2", got)
	}
}

func TestOAuth2WithoutExpiryKeepsTheTokenUntilRejected(t *testing.T) {
	as := newAuthServer(t, 0)
	clk := clock.NewFake(start)
	ap := as.applier(t, clk, clientSecret)
	req := mustPrepare(t, as, ap)
	clk.Advance(365 * 24 * time.Hour)
	wantToken(t, mustPrepare(t, as, ap), "tok-1")

	as.revoke("tok-1")
	if s := as.do(t, req); s != http.StatusUnauthorized {
		t.Fatalf("status = %d", s)
	}
	if !ap.Rejected(context.Background(), req) {
		t.Fatal("Rejected = false")
	}
	retry := mustPrepare(t, as, ap)
	wantToken(t, retry, "tok-2")
	if s := as.do(t, retry); s != http.StatusOK {
		t.Errorf("retry status = %d", s)
	}
}

// A token living less than a minute is used for half its life, not refetched per call.
func TestOAuth2ShortLivedToken(t *testing.T) {
	as := newAuthServer(t, 20)
	clk := clock.NewFake(start)
	ap := as.applier(t, clk, clientSecret)
	wantToken(t, mustPrepare(t, as, ap), "tok-1")
	wantToken(t, mustPrepare(t, as, ap), "tok-1")
	clk.Advance(9 * time.Second)
	wantToken(t, mustPrepare(t, as, ap), "tok-1")
	clk.Advance(time.Second)
	wantToken(t, mustPrepare(t, as, ap), "tok-2")
}

func TestOAuth2RejectedRefreshesOnceForManyReports(t *testing.T) {
	as := newAuthServer(t, 3600)
	ap := as.applier(t, clock.NewFake(start), clientSecret)

	const n = 20
	reqs := make([]*http.Request, n)
	for i := range reqs {
		reqs[i] = mustPrepare(t, as, ap)
	}
	as.revoke("tok-1") // the upstream stops accepting the cached token before it expires

	var wg sync.WaitGroup
	for _, req := range reqs {
		wg.Go(func() {
			if s := as.do(t, req); s != http.StatusUnauthorized {
				t.Errorf("first attempt: status = %d, want 401", s)
				return
			}
			if !ap.Rejected(context.Background(), req) {
				t.Error("Rejected = false for a rejected token")
				return
			}
			retry := req.Clone(context.Background())
			if err := ap.Apply(context.Background(), retry, nil); err != nil {
				t.Errorf("Apply: %v", err)
				return
			}
			if s := as.do(t, retry); s != http.StatusOK {
				t.Errorf("retry: status = %d (%s)", s, retry.Header.Get("Authorization"))
			}
		})
	}
	wg.Wait()
	if got := as.tokenRequests(); got != 2 {
		t.Errorf("token requests = %d, want 2 (the first token and one refresh)", got)
	}
}

func TestOAuth2RejectedWithAnOldTokenDoesNotRefresh(t *testing.T) {
	as := newAuthServer(t, 3600)
	ap := as.applier(t, clock.NewFake(start), clientSecret)
	old := mustPrepare(t, as, ap)
	if !ap.Rejected(context.Background(), old) {
		t.Fatal("Rejected = false")
	}
	wantToken(t, mustPrepare(t, as, ap), "tok-2")

	// A late 401 for tok-1 (a slow request) must not throw tok-2 away; retrying makes
	// sense, since the retry carries tok-2.
	if !ap.Rejected(context.Background(), old) {
		t.Error("Rejected = false for a request with a replaced token")
	}
	wantToken(t, mustPrepare(t, as, ap), "tok-2")
	if got := as.tokenRequests(); got != 2 {
		t.Errorf("token requests = %d, want 2", got)
	}

	// A request this applier did not prepare is not a reason to retry.
	if ap.Rejected(context.Background(), httptest.NewRequest(http.MethodGet, "/api/things", nil)) {
		t.Error("Rejected = true for a request without credentials")
	}
}

func TestOAuth2InvalidClient(t *testing.T) {
	as := newAuthServer(t, 3600)
	const wrong = "wr0ng-s3cr3t"
	ap := as.applier(t, clock.NewFake(start), wrong)
	req, err := as.prepare(t, ap)
	if err == nil {
		t.Fatal("Apply succeeded with a wrong client secret")
	}
	msg := fmt.Sprintf("%v | %+v | %#v", err, err, err)
	for _, w := range []string{"token endpoint", "failed", "401", "invalid_client"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
	if strings.Contains(msg, wrong) || strings.Contains(msg, url.QueryEscape(wrong)) {
		t.Errorf("error contains the client secret: %s", msg)
	}
	var te *credential.TokenError
	if !errors.As(err, &te) || te.StatusCode != http.StatusUnauthorized || te.Code != "invalid_client" {
		t.Errorf("error = %#v, want a *TokenError with 401 invalid_client", err)
	}
	if req.Header.Get("Authorization") != "" {
		t.Error("Authorization set after a failed Apply")
	}
}

func TestOAuth2TokenEndpointFailures(t *testing.T) {
	tests := []struct {
		name string
		fail func(w http.ResponseWriter, r *http.Request) bool
		want []string
	}{
		{"server error with an HTML page", func(w http.ResponseWriter, _ *http.Request) bool {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte("<html><body>upstream connect error</body></html>"))
			return true
		}, []string{"token endpoint", "500 Internal Server Error"}},
		{"an endpoint echoing the secret", func(w http.ResponseWriter, _ *http.Request) bool {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_request", "error_description": "bad client_secret=" + url.QueryEscape(clientSecret) + " / " + clientSecret})
			return true
		}, []string{"400", "invalid_request", "[REDACTED]"}},
		{"success without a token", func(w http.ResponseWriter, _ *http.Request) bool {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"token_type":"bearer"}`))
			return true
		}, []string{"token endpoint", "missing access_token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			as := newAuthServer(t, 3600)
			as.fail = tt.fail
			ap := as.applier(t, clock.NewFake(start), clientSecret)
			_, err := as.prepare(t, ap)
			if err == nil {
				t.Fatal("Apply succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), clientSecret) || strings.Contains(err.Error(), url.QueryEscape(clientSecret)) {
				t.Errorf("error contains the client secret: %v", err)
			}

			// A failure is not cached: once the endpoint recovers, the next call works.
			as.mu.Lock()
			as.fail = nil
			as.mu.Unlock()
			wantToken(t, mustPrepare(t, as, ap), "tok-1")
		})
	}
}

func TestOAuth2UnreachableEndpoint(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL + "/token"
	dead.Close()
	ap := mustNew(t, &config.Auth{Kind: config.AuthOAuth2, TokenURL: lit(deadURL), ClientID: lit("id"), ClientSecret: envVal("S")},
		map[string]string{"S": clientSecret}, credential.Options{})
	err := ap.Apply(context.Background(), httptest.NewRequest(http.MethodGet, "/", nil), nil)
	if err == nil || !strings.Contains(err.Error(), "token endpoint") || strings.Contains(err.Error(), clientSecret) {
		t.Errorf("Apply = %v", err)
	}
}

// A caller that gives up does not fail the token request the others are waiting for.
func TestOAuth2CallerCancellationDoesNotAbortTheSharedRequest(t *testing.T) {
	as := newAuthServer(t, 3600)
	as.gate = make(chan struct{})
	ap := as.applier(t, clock.NewFake(start), clientSecret)

	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() { first <- ap.Apply(ctx, httptest.NewRequest(http.MethodGet, "/", nil), nil) }()
	<-as.arrived
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Apply = %v, want context.Canceled", err)
	}

	second := make(chan *http.Request, 1)
	go func() {
		req, err := as.prepare(t, ap)
		if err != nil {
			t.Errorf("Apply: %v", err)
		}
		second <- req
	}()
	close(as.gate)
	wantToken(t, <-second, "tok-1")
	if got := as.tokenRequests(); got != 1 {
		t.Errorf("token requests = %d, want 1", got)
	}
}

// Some servers accept client credentials only in the form body; x/oauth2 finds out by
// trying Basic first, and remembers for the refreshes.
func TestOAuth2FormOnlyClientAuthentication(t *testing.T) {
	as := newAuthServer(t, 3600)
	as.fail = func(w http.ResponseWriter, r *http.Request) bool {
		if _, _, basic := r.BasicAuth(); basic {
			as.oauthError(w, http.StatusUnauthorized, "invalid_client", "use client_secret_post")
			return true
		}
		return false
	}
	ap := as.applier(t, clock.NewFake(start), clientSecret)
	req := mustPrepare(t, as, ap)
	wantToken(t, req, "tok-1")
	if got := as.tokenRequests(); got != 2 {
		t.Errorf("token requests = %d, want 2 (Basic refused, then the form)", got)
	}
	ap.Rejected(context.Background(), req)
	wantToken(t, mustPrepare(t, as, ap), "tok-2")
	if got := as.tokenRequests(); got != 3 {
		t.Errorf("token requests = %d, want 3 (the form straight away)", got)
	}
}

// Some servers answer with a form body (expires_in as text); the expiry still counts.
func TestOAuth2FormEncodedTokenResponse(t *testing.T) {
	as := newAuthServer(t, 0)
	n := 0
	as.fail = func(w http.ResponseWriter, _ *http.Request) bool {
		n++ // token requests are serialised by the applier
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
		_, _ = fmt.Fprintf(w, "access_token=form-%d&token_type=bearer&expires_in=120", n)
		return true
	}
	clk := clock.NewFake(start)
	ap := as.applier(t, clk, clientSecret)
	wantToken(t, mustPrepare(t, as, ap), "form-1")
	clk.Advance(89 * time.Second)
	wantToken(t, mustPrepare(t, as, ap), "form-1")
	clk.Advance(time.Second)
	wantToken(t, mustPrepare(t, as, ap), "form-2")
}

// The access token is a secret too once it is held; the client secret always is.
func TestOAuth2SecretsIncludeTheCurrentToken(t *testing.T) {
	as := newAuthServer(t, 3600)
	ap := as.applier(t, clock.NewFake(start), clientSecret)
	if got := ap.Secrets(); !slices.Equal(got, []string{clientSecret}) {
		t.Errorf("before a token: Secrets() = %q", got)
	}
	wantToken(t, mustPrepare(t, as, ap), "tok-1")
	if got := ap.Secrets(); !slices.Equal(got, []string{clientSecret, "tok-1"}) {
		t.Errorf("with a token: Secrets() = %q", got)
	}
}

// A token URL with a key in its query is shown redacted in errors.
func TestOAuth2TokenURLRedactedInErrors(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL + "/token?key=url-s3cret-key"
	dead.Close()
	ap := mustNew(t, &config.Auth{Kind: config.AuthOAuth2, TokenURL: lit(deadURL), ClientID: lit("id"), ClientSecret: envVal("S")},
		map[string]string{"S": clientSecret}, credential.Options{})
	err := ap.Apply(context.Background(), httptest.NewRequest(http.MethodGet, "/", nil), nil)
	if err == nil || strings.Contains(err.Error(), "url-s3cret-key") || !strings.Contains(err.Error(), "key=[REDACTED]") {
		t.Errorf("Apply = %v", err)
	}
}
