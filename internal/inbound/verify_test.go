package inbound_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/inbound"
	"github.com/junctionhq/junction/internal/webhook/signing"
)

var start = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

const (
	stripeSecret = "whsec_test_5f0b1c2d3e4f5a6b7c8d9e0f"
	stripeEvent  = `{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1","amount":2000}}}`
)

// mustFail checks that err wraps ErrSignature, mentions want and does not leak secrets.
func mustFail(t *testing.T, err error, want string, secrets ...string) {
	t.Helper()
	if !errors.Is(err, inbound.ErrSignature) {
		t.Fatalf("error = %v, want one wrapping ErrSignature", err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error contains a secret: %v", err)
		}
	}
}

func stripeHeader(payload, secret string, at time.Time, scheme string) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{
		Payload: []byte(payload), Secret: secret, Timestamp: at, Scheme: scheme,
	}).Header
}

func stripeVerifier(c clock.Clock, secrets ...string) inbound.Verifier {
	return inbound.Verifier{Scheme: inbound.Stripe, Secrets: secrets, Clock: c}
}

func TestStripeGeneratedPayloadVerifies(t *testing.T) {
	c := clock.NewFake(start)
	h := http.Header{}
	h.Set("Stripe-Signature", stripeHeader(stripeEvent, stripeSecret, start, ""))
	id, err := stripeVerifier(c, stripeSecret).Verify(h, []byte(stripeEvent))
	if err != nil {
		t.Fatal(err)
	}
	if id != "evt_1NG8Du2eZvKYlo2CUI79vXWy" {
		t.Errorf("provider id = %q, want the event id", id)
	}
	// Still inside the default five minutes, either side.
	for _, d := range []time.Duration{5 * time.Minute, -10 * time.Minute} {
		c.Advance(d)
		if _, err := stripeVerifier(c, stripeSecret).Verify(h, []byte(stripeEvent)); err != nil {
			t.Errorf("after %v more: %v", d, err)
		}
	}
}

func TestStripeRollingSecretsAndExtraEntries(t *testing.T) {
	c := clock.NewFake(start)
	oldSecret, newSecret := "whsec_old_secret_value", "whsec_new_secret_value"
	sig := func(secret string) string {
		return hex.EncodeToString(webhook.ComputeSignature(start, []byte(stripeEvent), secret))
	}
	// What Stripe sends during a roll: both v1 signatures, and a v0 test-mode one.
	header := fmt.Sprintf("t=%d,v1=%s,v1=%s,v0=%s,scheme=x", start.Unix(), sig(newSecret), sig(oldSecret), sig("other"))
	h := http.Header{"Stripe-Signature": {header}}
	for _, secrets := range [][]string{{newSecret}, {oldSecret}, {"whsec_unrelated", oldSecret}} {
		if _, err := stripeVerifier(c, secrets...).Verify(h, []byte(stripeEvent)); err != nil {
			t.Errorf("secrets %v: %v", len(secrets), err)
		}
	}
	_, err := stripeVerifier(c, "other").Verify(h, []byte(stripeEvent))
	mustFail(t, err, "no v1 signature in Stripe-Signature matches", "other")
}

func TestStripeRejects(t *testing.T) {
	good := stripeHeader(stripeEvent, stripeSecret, start, "")
	ts := strconv.FormatInt(start.Unix(), 10)
	sig := hex.EncodeToString(webhook.ComputeSignature(start, []byte(stripeEvent), stripeSecret))
	cases := []struct {
		name    string
		header  string
		body    string
		secret  string
		advance time.Duration
		tol     time.Duration
		want    string
	}{
		{"tampered body", good, strings.Replace(stripeEvent, "2000", "9000", 1), stripeSecret, 0, 0, "no v1 signature in Stripe-Signature matches"},
		{"wrong secret", good, stripeEvent, "whsec_wrong", 0, 0, "matches"},
		{"expired", good, stripeEvent, stripeSecret, 5*time.Minute + time.Second, 0, "outside the tolerance of 5m0s"},
		{"from the future", good, stripeEvent, stripeSecret, -5*time.Minute - time.Second, 0, "outside the tolerance"},
		{"custom tolerance", good, stripeEvent, stripeSecret, 11 * time.Second, 10 * time.Second, "outside the tolerance of 10s"},
		{"missing header", "", stripeEvent, stripeSecret, 0, 0, "missing Stripe-Signature header"},
		{"no t", "v1=" + sig, stripeEvent, stripeSecret, 0, 0, "has no t"},
		{"two t", "t=" + ts + ",t=" + ts + ",v1=" + sig, stripeEvent, stripeSecret, 0, 0, "more than one t"},
		{"empty t", "t=,v1=" + sig, stripeEvent, stripeSecret, 0, 0, "empty t"},
		{"signed t", "t=+" + ts + ",v1=" + sig, stripeEvent, stripeSecret, 0, 0, "not a Unix time"},
		{"entry without =", "t=" + ts + ",v1", stripeEvent, stripeSecret, 0, 0, "without '='"},
		{"no v1", "t=" + ts, stripeEvent, stripeSecret, 0, 0, "no valid v1"},
		{"only v0", stripeHeader(stripeEvent, stripeSecret, start, "v0"), stripeEvent, stripeSecret, 0, 0, "no valid v1"},
		{"v1 not hex", "t=" + ts + ",v1=zz" + sig[2:], stripeEvent, stripeSecret, 0, 0, "no valid v1"},
		{"v1 short", "t=" + ts + ",v1=" + sig[:62], stripeEvent, stripeSecret, 0, 0, "no valid v1"},
		{"huge header", "t=" + ts + ",v1=" + sig + strings.Repeat(",x=y", 3000), stripeEvent, stripeSecret, 0, 0, "longer than"},
		{"signed but not JSON", stripeHeader("not json", stripeSecret, start, ""), "not json", stripeSecret, 0, 0, "not a JSON event"},
		{"signed but no id", stripeHeader(`{"object":"event"}`, stripeSecret, start, ""), `{"object":"event"}`, stripeSecret, 0, 0, "event has no id"},
		{"signed but id not a string", stripeHeader(`{"id":7}`, stripeSecret, start, ""), `{"id":7}`, stripeSecret, 0, 0, "not a JSON event"},
		{"signed but empty id", stripeHeader(`{"id":""}`, stripeSecret, start, ""), `{"id":""}`, stripeSecret, 0, 0, "event has no id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clk := clock.NewFake(start)
			clk.Advance(c.advance)
			h := http.Header{}
			if c.header != "" {
				h.Set("Stripe-Signature", c.header)
			}
			v := stripeVerifier(clk, c.secret)
			v.Tolerance = c.tol
			_, err := v.Verify(h, []byte(c.body))
			mustFail(t, err, c.want, c.secret)
		})
	}
}

// githubSig computes the header independently of the package: HMAC-SHA256 with the
// secret's bytes as key, over the body, in lower-case hex.
func githubSig(secret string, body []byte) string {
	return "sha256=" + hex.EncodeToString(hmacSum(sha256.New, secret, body))
}

func TestGitHub(t *testing.T) {
	// GitHub's documented example: this secret and payload give this signature.
	const (
		docSecret = "It's a Secret to Everybody"
		docBody   = "Hello, World!"
		docSig    = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	)
	if got := githubSig(docSecret, []byte(docBody)); got != docSig {
		t.Fatalf("the test's own HMAC disagrees with GitHub's documentation: %s", got)
	}
	v := inbound.Verifier{Scheme: inbound.GitHub, Secrets: []string{docSecret}}
	h := http.Header{}
	h.Set("X-Hub-Signature-256", docSig)
	h.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
	id, err := v.Verify(h, []byte(docBody))
	if err != nil || id != "72d3162e-cc78-11e3-81ab-4c9367dc0958" {
		t.Fatalf("Verify = %q, %v", id, err)
	}

	body := []byte(`{"action":"opened","pull_request":{"number":1}}`)
	rotated := inbound.Verifier{Scheme: inbound.GitHub, Secrets: []string{"new-secret", "old-secret"}}
	h.Set("X-Hub-Signature-256", githubSig("old-secret", body))
	if _, err := rotated.Verify(h, body); err != nil {
		t.Errorf("rotation, old secret: %v", err)
	}

	sig := githubSig("new-secret", body)
	cases := []struct {
		name             string
		header, delivery string
		body             []byte
		want             string
	}{
		{"tampered body", sig, "d1", []byte(`{"action":"closed"}`), "does not match"},
		{"wrong secret", githubSig("x", body), "d1", body, "does not match"},
		{"missing header", "", "d1", body, "missing X-Hub-Signature-256 header"},
		{"sha1 header", "sha1=" + sig[7:47], "d1", body, `does not start with "sha256="`},
		{"no prefix", sig[7:], "d1", body, `does not start with "sha256="`},
		{"not hex", "sha256=" + strings.Repeat("g", 64), "d1", body, "not 64 hexadecimal digits"},
		{"short", sig[:len(sig)-2], "d1", body, "not 64 hexadecimal digits"},
		{"missing delivery", sig, "", body, "missing X-GitHub-Delivery"},
		{"delivery too long", sig, strings.Repeat("a", 256), body, "longer than 255 bytes"},
		{"delivery with control", sig, "a\x00b", body, "control character"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			if c.header != "" {
				h.Set("X-Hub-Signature-256", c.header)
			}
			if c.delivery != "" {
				h["X-Github-Delivery"] = []string{c.delivery}
			}
			_, err := rotated.Verify(h, c.body)
			mustFail(t, err, c.want, "new-secret", "old-secret")
		})
	}
}

func TestStandardWebhooksSignedByOfficialLibrary(t *testing.T) {
	secret, err := signing.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"type":"invoice.paid","data":{"id":"in_1"}}`)
	sig, err := wh.Sign("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", start, body)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set(standardwebhooks.HeaderWebhookID, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W")
	h.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(start.Unix(), 10))
	h.Set(standardwebhooks.HeaderWebhookSignature, sig)

	c := clock.NewFake(start.Add(time.Minute))
	v := inbound.Verifier{Scheme: inbound.StandardWebhooks, Secrets: []string{secret}, Clock: c}
	id, err := v.Verify(h, body)
	if err != nil || id != "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W" {
		t.Fatalf("Verify = %q, %v", id, err)
	}

	_, err = v.Verify(h, []byte(`{"type":"invoice.paid","data":{"id":"in_2"}}`))
	mustFail(t, err, "no v1 signature matches", secret[6:])

	c.Advance(5 * time.Minute)
	_, err = v.Verify(h, body)
	mustFail(t, err, "outside the tolerance of 5m0s", secret[6:])

	v.Tolerance = time.Hour
	if _, err := v.Verify(h, body); err != nil {
		t.Errorf("with a 1h tolerance: %v", err)
	}

	h.Del(standardwebhooks.HeaderWebhookSignature)
	_, err = v.Verify(h, body)
	mustFail(t, err, "missing webhook-signature")
}

func hmacSum(newHash func() hash.Hash, key string, body []byte) []byte {
	m := hmac.New(newHash, []byte(key))
	m.Write(body)
	return m.Sum(nil)
}

func TestHMACDigestForms(t *testing.T) {
	const secret = "shopify-like-secret"
	body := []byte(`{"order":{"id":820982911946154508}}`)
	sum256 := hmacSum(sha256.New, secret, body)
	sum512 := hmacSum(sha512.New, secret, body)

	forms := map[string]string{
		"sha256=hex":        "sha256=" + hex.EncodeToString(sum256),
		"SHA256=HEX":        "SHA256=" + strings.ToUpper(hex.EncodeToString(sum256)),
		"bare hex":          hex.EncodeToString(sum256),
		"base64":            base64.StdEncoding.EncodeToString(sum256),
		"base64 raw url":    base64.RawURLEncoding.EncodeToString(sum256),
		"second of a list":  "sha256=" + strings.Repeat("0", 64) + ", sha256=" + hex.EncodeToString(sum256),
		"after junk entry":  "t=123, " + base64.StdEncoding.EncodeToString(sum256),
		"surrounding space": "  " + hex.EncodeToString(sum256) + " ",
	}
	for name, value := range forms {
		t.Run(name, func(t *testing.T) {
			v := inbound.Verifier{Scheme: inbound.HMAC, Secrets: []string{secret}, Header: "X-Shopify-Hmac-Sha256"}
			id, err := v.Verify(http.Header{"X-Shopify-Hmac-Sha256": {value}}, body)
			if err != nil {
				t.Fatal(err)
			}
			want := sha256.Sum256(body)
			if id != hex.EncodeToString(want[:]) {
				t.Errorf("provider id = %q, want the body's SHA-256", id)
			}
		})
	}

	v512 := inbound.Verifier{Scheme: inbound.HMAC, Secrets: []string{secret}, Header: "X-Sig", Algorithm: "sha512", IDHeader: "X-Delivery"}
	h := http.Header{"X-Sig": {"sha512=" + hex.EncodeToString(sum512)}, "X-Delivery": {"dlv_9"}}
	if id, err := v512.Verify(h, body); err != nil || id != "dlv_9" {
		t.Errorf("sha512 with IDHeader: %q, %v", id, err)
	}
	h.Set("X-Sig", base64.StdEncoding.EncodeToString(sum512))
	if _, err := v512.Verify(h, body); err != nil {
		t.Errorf("sha512 base64: %v", err)
	}

	v256 := inbound.Verifier{Scheme: inbound.HMAC, Secrets: []string{secret}, Header: "X-Sig"}
	cases := []struct{ name, value, want string }{
		{"missing", "", "missing X-Sig header"},
		{"sha512 digest for sha256", "sha512=" + hex.EncodeToString(sum512), "holds no sha256 digest"},
		{"sha256 prefix, sha512 length", "sha256=" + hex.EncodeToString(sum512), "holds no sha256 digest"},
		{"garbage", "hello, world", "holds no sha256 digest"},
		{"other secret", "sha256=" + strings.Repeat("ab", 32), "X-Sig does not match"},
		{"huge", strings.Repeat("a,", 5000), "longer than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			if c.value != "" {
				h.Set("X-Sig", c.value)
			}
			_, err := v256.Verify(h, body)
			mustFail(t, err, c.want, secret)
		})
	}
	_, err := v256.Verify(http.Header{"X-Sig": {hex.EncodeToString(sum256)}}, append(body, ' '))
	mustFail(t, err, "does not match", secret)
}

// Junction's own seed-form signature verifies as an hmac source when the verifier is
// given the key SignSimple uses: the base64-decoded secret.
func TestHMACVerifiesSignSimple(t *testing.T) {
	secret, err := signing.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := signing.NewSecret()
	body := []byte(`{"event":"order.created"}`)
	for _, alg := range []string{"sha256", "sha512"} {
		h := http.Header{}
		if err := signing.SignSimple(h, "X-Webhook-Signature", alg, body, other, secret); err != nil {
			t.Fatal(err)
		}
		v := inbound.Verifier{Scheme: inbound.HMAC, Secrets: []string{string(key)}, Header: "X-Webhook-Signature", Algorithm: alg}
		if _, err := v.Verify(h, body); err != nil {
			t.Errorf("%s: %v", alg, err)
		}
	}
}

func TestHMACIDHeaderAbsentFallsBackToBodyHash(t *testing.T) {
	body := []byte("payload")
	v := inbound.Verifier{Scheme: inbound.HMAC, Secrets: []string{"k"}, Header: "X-Sig", IDHeader: "X-Id"}
	id, err := v.Verify(http.Header{"X-Sig": {hex.EncodeToString(hmacSum(sha256.New, "k", body))}}, body)
	want := sha256.Sum256(body)
	if err != nil || id != hex.EncodeToString(want[:]) {
		t.Errorf("Verify = %q, %v; want the body hash", id, err)
	}
}

func TestConfigurationErrorsAreNotSignatureErrors(t *testing.T) {
	cases := map[string]inbound.Verifier{
		"unknown scheme":     {Scheme: "gitlab", Secrets: []string{"s"}},
		"empty scheme":       {Secrets: []string{"s"}},
		"no secret":          {Scheme: inbound.GitHub},
		"empty secret":       {Scheme: inbound.Stripe, Secrets: []string{"s", ""}},
		"standard not whsec": {Scheme: inbound.StandardWebhooks, Secrets: []string{"plain-text-secret"}},
		"hmac no header":     {Scheme: inbound.HMAC, Secrets: []string{"s"}},
		"hmac bad header":    {Scheme: inbound.HMAC, Secrets: []string{"s"}, Header: "X Sig"},
		"hmac bad id header": {Scheme: inbound.HMAC, Secrets: []string{"s"}, Header: "X-Sig", IDHeader: "a:b"},
		"hmac bad algorithm": {Scheme: inbound.HMAC, Secrets: []string{"s"}, Header: "X-Sig", Algorithm: "md5"},
	}
	for name, v := range cases {
		_, err := v.Verify(http.Header{}, nil)
		if err == nil || errors.Is(err, inbound.ErrSignature) {
			t.Errorf("%s: Verify = %v, want a configuration error", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "plain-text-secret") {
			t.Errorf("%s: error contains the secret: %v", name, err)
		}
	}
}

func TestErrSignatureIsSigningErrSignature(t *testing.T) {
	if !errors.Is(inbound.ErrSignature, signing.ErrSignature) {
		t.Fatal("inbound.ErrSignature should be signing.ErrSignature")
	}
}
