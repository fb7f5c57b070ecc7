package credential_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/credential"
)

// Token requests share a goroutine (singleflight) and the fakes hold keep-alive
// connections; every test must leave none behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var start = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

// env is a LookupEnv over a map, so tests never depend on the real environment.
func env(m map[string]string) config.LookupEnv {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

func envVal(name string) config.Value { return config.Value{Parts: []config.ValuePart{{Env: name}}} }
func lit(s string) config.Value       { return config.LiteralValue(s) }

func mustNew(t *testing.T, a *config.Auth, vars map[string]string, opts credential.Options) credential.Applier {
	t.Helper()
	ap, err := credential.New(a, env(vars), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return ap
}

// received is what a fake upstream saw of one request.
type received struct {
	header   http.Header
	rawQuery string
	query    url.Values
	user     string
	pass     string
	basicOK  bool
}

// recorder is a fake upstream that records the last request it received.
func recorder(t *testing.T) (*httptest.Server, func() received) {
	t.Helper()
	var (
		mu  sync.Mutex
		got received
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		got = received{header: r.Header.Clone(), rawQuery: r.URL.RawQuery, query: r.URL.Query()}
		got.user, got.pass, got.basicOK = r.BasicAuth()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, func() received {
		mu.Lock()
		defer mu.Unlock()
		return got
	}
}

// send applies ap to a request for target and sends it.
func send(t *testing.T, ap credential.Applier, client *http.Client, method, target string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ap.Apply(context.Background(), req, nil); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
}

func TestStaticSchemes(t *testing.T) {
	vars := map[string]string{"TOKEN": "tok-123", "KEY": "k/e y+1", "USER": "alice", "PASS": "p:a ss"}
	tests := []struct {
		name   string
		auth   *config.Auth
		target string
		check  func(t *testing.T, got received)
	}{
		{
			name:   "bearer",
			auth:   &config.Auth{Kind: config.AuthBearer, Token: envVal("TOKEN")},
			target: "/v1/things",
			check: func(t *testing.T, got received) {
				if h := got.header.Values("Authorization"); len(h) != 1 || h[0] != "Bearer tok-123" {
					t.Errorf("Authorization = %q", h)
				}
			},
		},
		{
			name:   "api_key header",
			auth:   &config.Auth{Kind: config.AuthAPIKey, Key: envVal("KEY"), KeyName: "X-API-Key", KeyIn: config.KeyInHeader},
			target: "/v1/things",
			check: func(t *testing.T, got received) {
				if h := got.header.Values("X-Api-Key"); len(h) != 1 || h[0] != "k/e y+1" {
					t.Errorf("X-API-Key = %q", h)
				}
				if got.header.Get("Authorization") != "" || got.rawQuery != "" {
					t.Errorf("key leaked elsewhere: %v %q", got.header, got.rawQuery)
				}
			},
		},
		{
			// auth apikey { header: "Authorization" value: "Bearer $KEY" }
			name: "api_key header with a prefix in the value",
			auth: &config.Auth{Kind: config.AuthAPIKey, KeyName: "Authorization", KeyIn: config.KeyInHeader,
				Key: config.Value{Parts: []config.ValuePart{{Literal: "Bearer "}, {Env: "TOKEN"}}}},
			target: "/",
			check: func(t *testing.T, got received) {
				if h := got.header.Get("Authorization"); h != "Bearer tok-123" {
					t.Errorf("Authorization = %q", h)
				}
			},
		},
		{
			name:   "api_key query",
			auth:   &config.Auth{Kind: config.AuthAPIKey, Key: envVal("KEY"), KeyName: "appid", KeyIn: config.KeyInQuery},
			target: "/data/2.5/weather",
			check: func(t *testing.T, got received) {
				if v := got.query["appid"]; len(v) != 1 || v[0] != "k/e y+1" {
					t.Errorf("appid = %q (raw %q)", v, got.rawQuery)
				}
				if len(got.query) != 1 {
					t.Errorf("query = %v", got.query)
				}
			},
		},
		{
			name:   "api_key query keeps the other parameters as they are",
			auth:   &config.Auth{Kind: config.AuthAPIKey, Key: envVal("KEY"), KeyName: "appid", KeyIn: config.KeyInQuery},
			target: "/data/2.5/weather?q=New+York&units=metric&appid=stale&b=%2F",
			check: func(t *testing.T, got received) {
				want := "q=New+York&units=metric&b=%2F&appid=k%2Fe+y%2B1"
				if got.rawQuery != want {
					t.Errorf("raw query = %q, want %q", got.rawQuery, want)
				}
				if v := got.query["appid"]; len(v) != 1 || v[0] != "k/e y+1" {
					t.Errorf("appid = %q", v)
				}
				if got.query.Get("q") != "New York" || got.query.Get("b") != "/" {
					t.Errorf("query = %v", got.query)
				}
			},
		},
		{
			name:   "basic",
			auth:   &config.Auth{Kind: config.AuthBasic, Username: envVal("USER"), Password: envVal("PASS")},
			target: "/",
			check: func(t *testing.T, got received) {
				if !got.basicOK || got.user != "alice" || got.pass != "p:a ss" {
					t.Errorf("basic auth = %q %q %v", got.user, got.pass, got.basicOK)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, last := recorder(t)
			ap := mustNew(t, tt.auth, vars, credential.Options{})
			send(t, ap, srv.Client(), http.MethodGet, srv.URL+tt.target)
			tt.check(t, last())
			if ap.Rejected(context.Background(), httptest.NewRequest(http.MethodGet, "/", nil)) {
				t.Error("Rejected = true for a static credential: a retry cannot help")
			}
		})
	}
}

// Preparing a request twice (a caller retrying with the same *http.Request) must not
// duplicate the key.
func TestAPIKeyQueryApplyTwice(t *testing.T) {
	ap := mustNew(t, &config.Auth{Kind: config.AuthAPIKey, Key: envVal("KEY"), KeyName: "api_key", KeyIn: config.KeyInQuery},
		map[string]string{"KEY": "k1"}, credential.Options{})
	req := httptest.NewRequest(http.MethodGet, "https://api.example.com/x?a=1", nil)
	for range 2 {
		if err := ap.Apply(context.Background(), req, nil); err != nil {
			t.Fatal(err)
		}
	}
	if req.URL.RawQuery != "a=1&api_key=k1" {
		t.Errorf("raw query = %q", req.URL.RawQuery)
	}
}

func TestNilAuthDoesNothing(t *testing.T) {
	ap, err := credential.New(nil, nil, credential.Options{})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "https://api.example.com/x?a=1", nil)
	before := req.Header.Clone()
	if err := ap.Apply(context.Background(), req, []byte("body")); err != nil {
		t.Fatal(err)
	}
	if len(req.Header) != len(before) || req.URL.RawQuery != "a=1" {
		t.Errorf("request changed: %v %q", req.Header, req.URL.RawQuery)
	}
	if ap.Rejected(context.Background(), req) {
		t.Error("Rejected = true")
	}
}

func TestFileSecret(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ap := mustNew(t, &config.Auth{Kind: config.AuthBearer, Token: config.Value{Parts: []config.ValuePart{{File: path}}}}, nil, credential.Options{})
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	if err := ap.Apply(context.Background(), req, nil); err != nil {
		t.Fatal(err)
	}
	if h := req.Header.Get("Authorization"); h != "Bearer from-file" {
		t.Errorf("Authorization = %q", h)
	}
}

func TestNewErrors(t *testing.T) {
	missingFile := filepath.Join(t.TempDir(), "nope")
	emptyFile := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(emptyFile, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"EMPTY": "", "SET": "set-secret-1", "MULTILINE": "abc\ndef-secret"}
	tests := []struct {
		name    string
		auth    *config.Auth
		want    []string // substrings of the error
		missing string   // the *config.MissingError's Ref, if one is wrapped
	}{
		{"unset variable", &config.Auth{Kind: config.AuthBearer, Token: envVal("WEATHER_TOKEN")},
			[]string{"auth token", "WEATHER_TOKEN", "is not set"}, "WEATHER_TOKEN"},
		{"empty variable", &config.Auth{Kind: config.AuthBearer, Token: envVal("EMPTY")},
			[]string{"auth token", "EMPTY", "is empty"}, "EMPTY"},
		{"unreadable file", &config.Auth{Kind: config.AuthBearer, Token: config.Value{Parts: []config.ValuePart{{File: missingFile}}}},
			[]string{"auth token", "file(" + missingFile + ")", "cannot be read"}, "file(" + missingFile + ")"},
		{"empty file", &config.Auth{Kind: config.AuthBearer, Token: config.Value{Parts: []config.ValuePart{{File: emptyFile}}}},
			[]string{"auth token", "is empty"}, "file(" + emptyFile + ")"},
		{"not configured", &config.Auth{Kind: config.AuthBearer},
			[]string{"auth token", "not configured"}, ""},
		{"empty literal", &config.Auth{Kind: config.AuthBearer, Token: lit("")},
			[]string{"auth token", "is empty"}, ""},
		{"line break in a secret", &config.Auth{Kind: config.AuthBearer, Token: envVal("MULTILINE")},
			[]string{"auth token", "control character"}, ""},
		{"api_key key", &config.Auth{Kind: config.AuthAPIKey, Key: envVal("API_KEY"), KeyName: "X-Key", KeyIn: config.KeyInHeader},
			[]string{"auth key", "API_KEY"}, "API_KEY"},
		{"api_key bad header name", &config.Auth{Kind: config.AuthAPIKey, Key: envVal("SET"), KeyName: "X Key", KeyIn: config.KeyInHeader},
			[]string{"not a valid header name"}, ""},
		{"api_key bad placement", &config.Auth{Kind: config.AuthAPIKey, Key: envVal("SET"), KeyName: "k", KeyIn: "cookie"},
			[]string{`"cookie"`}, ""},
		{"basic password", &config.Auth{Kind: config.AuthBasic, Username: envVal("SET"), Password: envVal("DB_PASS")},
			[]string{"auth password", "DB_PASS"}, "DB_PASS"},
		{"basic colon in user", &config.Auth{Kind: config.AuthBasic, Username: lit("a:b"), Password: envVal("SET")},
			[]string{"auth username", "':'"}, ""},
		{"oauth2 client_secret", &config.Auth{Kind: config.AuthOAuth2, TokenURL: lit("https://auth.example.com/token"), ClientID: lit("id"), ClientSecret: envVal("CLIENT_SECRET")},
			[]string{"auth client_secret", "CLIENT_SECRET"}, "CLIENT_SECRET"},
		{"oauth2 token_url", &config.Auth{Kind: config.AuthOAuth2, TokenURL: lit("auth.example.com/token"), ClientID: lit("id"), ClientSecret: envVal("SET")},
			[]string{"token_url", "not an http(s) URL"}, ""},
		{"aws secret_key", &config.Auth{Kind: config.AuthAWSSigV4, AccessKey: lit("AKID"), SecretKey: envVal("AWS_SECRET_ACCESS_KEY"), Region: lit("us-east-1"), Service: "s3"},
			[]string{"auth secret_key", "AWS_SECRET_ACCESS_KEY"}, "AWS_SECRET_ACCESS_KEY"},
		{"aws session_token given but unset", &config.Auth{Kind: config.AuthAWSSigV4, AccessKey: lit("AKID"), SecretKey: envVal("SET"), SessionToken: envVal("AWS_SESSION_TOKEN"), Region: lit("us-east-1"), Service: "s3"},
			[]string{"auth session_token", "AWS_SESSION_TOKEN"}, "AWS_SESSION_TOKEN"},
		{"aws service", &config.Auth{Kind: config.AuthAWSSigV4, AccessKey: lit("AKID"), SecretKey: envVal("SET"), Region: lit("us-east-1")},
			[]string{"missing service"}, ""},
		{"hmac secret", &config.Auth{Kind: config.AuthHMAC, Secret: envVal("HMAC_SECRET"), Header: "X-Signature"},
			[]string{"auth secret", "HMAC_SECRET"}, "HMAC_SECRET"},
		{"hmac algorithm", &config.Auth{Kind: config.AuthHMAC, Secret: envVal("SET"), Header: "X-Signature", Algorithm: "md5"},
			[]string{`unsupported algorithm "md5"`}, ""},
		{"hmac header", &config.Auth{Kind: config.AuthHMAC, Secret: envVal("SET")},
			[]string{"header", "not a valid header name"}, ""},
		{"unknown kind", &config.Auth{Kind: "kerberos"}, []string{`unknown auth kind "kerberos"`}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ap, err := credential.New(tt.auth, env(vars), credential.Options{})
			if err == nil {
				t.Fatalf("New = %v, want an error", ap)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			for _, secret := range []string{"set-secret-1", "def-secret"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q contains a secret", err)
				}
			}
			var me *config.MissingError
			switch {
			case tt.missing != "" && !errors.As(err, &me):
				t.Errorf("error %v does not wrap a *config.MissingError", err)
			case tt.missing != "" && me.Ref != tt.missing:
				t.Errorf("MissingError.Ref = %q, want %q", me.Ref, tt.missing)
			case tt.missing == "" && errors.As(err, &me):
				t.Errorf("unexpected MissingError %v", me)
			}
		})
	}
}

// Appliers hold secrets; printing one, by mistake, in a log line must print the kind.
func TestAppliersPrintTheirKindOnly(t *testing.T) {
	const secret = "sup3r-s3cret"
	vars := map[string]string{"S": secret}
	for _, a := range []*config.Auth{
		{Kind: config.AuthBearer, Token: envVal("S")},
		{Kind: config.AuthAPIKey, Key: envVal("S"), KeyName: "X-Key", KeyIn: config.KeyInHeader},
		{Kind: config.AuthAPIKey, Key: envVal("S"), KeyName: "key", KeyIn: config.KeyInQuery},
		{Kind: config.AuthBasic, Username: lit("u"), Password: envVal("S")},
		{Kind: config.AuthOAuth2, TokenURL: lit("https://auth.example.com/token"), ClientID: lit("id"), ClientSecret: envVal("S")},
		{Kind: config.AuthAWSSigV4, AccessKey: lit("AKID"), SecretKey: envVal("S"), SessionToken: envVal("S"), Region: lit("eu-west-1"), Service: "s3"},
		{Kind: config.AuthHMAC, Secret: envVal("S"), Header: "X-Signature", Algorithm: "sha512"},
	} {
		ap := mustNew(t, a, vars, credential.Options{Clock: clock.NewFake(start)})
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			s := fmt.Sprintf(verb, ap)
			if strings.Contains(s, secret) || !strings.Contains(s, string(a.Kind)) {
				t.Errorf("%s of the %s applier = %s", verb, a.Kind, s)
			}
		}
	}
}

// Appliers are shared by every call of an integration; run with -race.
func TestAppliersAreSafeForConcurrentUse(t *testing.T) {
	vars := map[string]string{"S": "secret-value"}
	clk := clock.NewFake(start)
	for _, a := range []*config.Auth{
		{Kind: config.AuthBearer, Token: envVal("S")},
		{Kind: config.AuthAPIKey, Key: envVal("S"), KeyName: "key", KeyIn: config.KeyInQuery},
		{Kind: config.AuthBasic, Username: lit("u"), Password: envVal("S")},
		{Kind: config.AuthAWSSigV4, AccessKey: lit("AKID"), SecretKey: envVal("S"), Region: lit("eu-west-1"), Service: "execute-api"},
		{Kind: config.AuthHMAC, Secret: envVal("S"), Header: "X-Signature"},
	} {
		t.Run(string(a.Kind), func(t *testing.T) {
			ap := mustNew(t, a, vars, credential.Options{Clock: clk})
			sign := func() string {
				req := httptest.NewRequest(http.MethodPost, "https://api.example.com/v1/x?a=1", strings.NewReader("body"))
				if err := ap.Apply(context.Background(), req, []byte("body")); err != nil {
					t.Error(err)
				}
				return fmt.Sprint(req.Header, req.URL.RawQuery)
			}
			want := sign()
			var wg sync.WaitGroup
			for range 32 {
				wg.Go(func() {
					if got := sign(); got != want {
						t.Errorf("concurrent Apply = %s, want %s", got, want)
					}
				})
			}
			wg.Wait()
		})
	}
}

// Secrets names every secret an applier sends, so the integration can scrub it from the
// errors it returns; identifiers that are not secret are left out.
func TestAppliersListTheirSecrets(t *testing.T) {
	const secret = "sup3r-s3cret"
	vars := map[string]string{"S": secret, "T": "s3ssion-t0ken"}
	for _, tc := range []struct {
		auth *config.Auth
		want []string
	}{
		{&config.Auth{Kind: config.AuthBearer, Token: envVal("S")}, []string{secret}},
		{&config.Auth{Kind: config.AuthAPIKey, Key: envVal("S"), KeyName: "X-Key", KeyIn: config.KeyInHeader}, []string{secret}},
		{&config.Auth{Kind: config.AuthAPIKey, Key: envVal("S"), KeyName: "key", KeyIn: config.KeyInQuery}, []string{secret}},
		{&config.Auth{Kind: config.AuthBasic, Username: lit("user"), Password: envVal("S")},
			[]string{secret, "user:" + secret, base64.StdEncoding.EncodeToString([]byte("user:" + secret))}},
		{&config.Auth{Kind: config.AuthOAuth2, TokenURL: lit("https://auth.example.com/token"), ClientID: lit("id"), ClientSecret: envVal("S")}, []string{secret}},
		{&config.Auth{Kind: config.AuthAWSSigV4, AccessKey: lit("AKID"), SecretKey: envVal("S"), SessionToken: envVal("T"), Region: lit("eu-west-1"), Service: "s3"},
			[]string{secret, "s3ssion-t0ken"}},
		{&config.Auth{Kind: config.AuthHMAC, Secret: envVal("S"), Header: "X-Signature", Algorithm: "sha512"}, []string{secret}},
	} {
		ap := mustNew(t, tc.auth, vars, credential.Options{Clock: clock.NewFake(start)})
		if got := ap.Secrets(); !slices.Equal(got, tc.want) {
			t.Errorf("%s: Secrets() = %q, want %q", tc.auth.Kind, got, tc.want)
		}
	}
}
