package integration

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
)

// echoTransport fails every request with an error that quotes its credentials, as a
// misbehaving proxy or transport might: only the scrubber stands between it and the
// caller.
type echoTransport struct{}

func (echoTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("proxy refused %s (Authorization: %s, X-Signature: %s): %w",
		r.URL, r.Header.Get("Authorization"), r.Header.Get("X-Signature"), &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")})
}

// TestFailedCallsAreScrubbed: whatever a failure's text holds, the error a call returns,
// and the health's last error, hold no secret of the integration — raw or escaped — and
// still say what happened.
func TestFailedCallsAreScrubbed(t *testing.T) {
	const (
		key    = "k3y/with+chars"
		token  = "t0ken-secret-value"
		pass   = "pa55-secret:word"
		hmacSK = "hmac-secret-key"
	)
	env := map[string]string{"KEY": key, "TOKEN": token, "USER": "user", "PASS": pass, "HK": hmacSK}
	for name, auth := range map[string]string{
		"Query":  `api_key(env(KEY), "appid")`,
		"Bearer": `bearer(env(TOKEN))`,
		"Basic":  `basic(env(USER), env(PASS))`,
		"Hmac":   `hmac { secret: env(HK), header: "X-Signature" }`,
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, `integration A { base_url: "http://127.0.0.1:9/v1" auth: `+auth+`
				operation get { method: GET path: "/x" } }`, "", env,
				withOptions(func(o *Options) { o.HTTPClient = &http.Client{Transport: echoTransport{}} }))
			_, err := h.call(t, "A", "get", nil)
			if KindOf(err) != KindUnreachable {
				t.Fatalf("call: %v", err)
			}
			health, _ := h.rt.Health("A")
			for _, text := range []string{err.Error(), fmt.Sprintf("%v %+v", err, err), health.LastError} {
				for _, secret := range []string{key, token, pass, hmacSK, "cGE1NS1zZWNyZXQ6d29yZA", "k3y%2Fwith%2Bchars"} {
					if strings.Contains(text, secret) {
						t.Errorf("%q leaked in %q", secret, text)
					}
				}
			}
			var op *net.OpError
			// (The hmac signature the transport quotes is not the secret: nothing to mask.)
			if !errors.As(err, &op) || !strings.Contains(err.Error(), "connection refused") || (name != "Hmac" && !strings.Contains(err.Error(), "[REDACTED]")) {
				t.Errorf("the scrubbed error lost what happened: %v", err)
			}
		})
	}
}

// TestUpstreamFailureAnswersAreScrubbed: an upstream that quotes the key it refused does
// not hand it to the caller; successful answers pass untouched.
func TestUpstreamFailureAnswersAreScrubbed(t *testing.T) {
	const key = "k3y-quoted-back"
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if r.URL.Path == "/ok" {
			jsonOK(w, `{"echo":"`+r.URL.Query().Get("appid")+`"}`)
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"message":"invalid key %s"}`, r.URL.Query().Get("appid"))
	})
	h := newHarness(t, `integration A { base_url: "UPSTREAM" auth: api_key(env(KEY), "appid")
		operation bad { method: GET path: "/bad" }
		operation ok { method: GET path: "/ok" } }`, up.URL, map[string]string{"KEY": key})
	if res := h.mustCall(t, "A", "bad", nil); res.Status != 401 || string(res.Body) != `{"message":"invalid key [REDACTED]"}` {
		t.Errorf("401 answer: %d %s", res.Status, res.Body)
	}
	if res := h.mustCall(t, "A", "ok", nil); string(res.Body) != `{"echo":"`+key+`"}` {
		t.Errorf("a success was changed: %s", res.Body)
	}
}
