package signing_test

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/junctionhq/junction/internal/webhook/signing"
)

// The Standard Webhooks specification's own example: this secret, id, timestamp and
// payload give this signature (the same vector is in the official libraries' tests).
const (
	specSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specTimestamp = 1614265330
	specPayload   = `{"test": 2432232314}`
	specSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func newSecret(t *testing.T) string {
	t.Helper()
	s, err := signing.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// libVerify verifies with the official Standard Webhooks library, which checks the
// timestamp against time.Now() with its own 5-minute tolerance.
func libVerify(t *testing.T, secret string, body []byte, h http.Header) error {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	return wh.Verify(body, h)
}

func TestSpecVector(t *testing.T) {
	h := http.Header{}
	if err := signing.Sign(h, specID, time.Unix(specTimestamp, 0), []byte(specPayload), specSecret); err != nil {
		t.Fatal(err)
	}
	if got := h.Get("webhook-signature"); got != specSignature {
		t.Errorf("webhook-signature = %q, want %q", got, specSignature)
	}
	if got := h.Get("webhook-id"); got != specID {
		t.Errorf("webhook-id = %q", got)
	}
	if got := h.Get("webhook-timestamp"); got != strconv.Itoa(specTimestamp) {
		t.Errorf("webhook-timestamp = %q", got)
	}
	if err := signing.Verify(h, []byte(specPayload), time.Unix(specTimestamp+10, 0), 0, specSecret); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

func TestSignedVerifiedByOfficialLibrary(t *testing.T) {
	secret := newSecret(t)
	body := []byte(`{"type":"order.created","data":{"id":"ord_1","total":12.5}}`)
	h := http.Header{}
	if err := signing.Sign(h, "msg_01JABCDEF", time.Now(), body, secret); err != nil {
		t.Fatal(err)
	}
	if err := libVerify(t, secret, body, h); err != nil {
		t.Fatalf("official library rejects our signature: %v", err)
	}
	if err := libVerify(t, newSecret(t), body, h); err == nil {
		t.Fatal("official library accepts our signature with another secret")
	}
	tampered := append([]byte(nil), body...)
	tampered[len(tampered)-2] = '0'
	if err := libVerify(t, secret, tampered, h); err == nil {
		t.Fatal("official library accepts a tampered body")
	}
}

func TestOfficialLibrarySignedVerifies(t *testing.T) {
	secret := newSecret(t)
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	body := []byte(`{"hello":"world"}`)
	sig, err := wh.Sign("msg_42", now, body)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set(standardwebhooks.HeaderWebhookID, "msg_42")
	h.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
	h.Set(standardwebhooks.HeaderWebhookSignature, sig)
	if err := signing.Verify(h, body, now, 0, secret); err != nil {
		t.Fatalf("Verify rejects the official library's signature: %v", err)
	}
}

func TestRotationEitherSecretVerifies(t *testing.T) {
	oldSecret, newSec, other := newSecret(t), newSecret(t), newSecret(t)
	body := []byte(`{"n":1}`)
	now := time.Now()
	h := http.Header{}
	if err := signing.Sign(h, "msg_rot", now, body, newSec, oldSecret); err != nil {
		t.Fatal(err)
	}
	entries := strings.Split(h.Get("webhook-signature"), " ")
	if len(entries) != 2 || !strings.HasPrefix(entries[0], "v1,") || !strings.HasPrefix(entries[1], "v1,") {
		t.Fatalf("webhook-signature = %q, want two space-separated v1 entries", h.Get("webhook-signature"))
	}
	for name, s := range map[string]string{"new": newSec, "old": oldSecret} {
		if err := libVerify(t, s, body, h); err != nil {
			t.Errorf("official library with the %s secret: %v", name, err)
		}
		if err := signing.Verify(h, body, now, 0, s); err != nil {
			t.Errorf("Verify with the %s secret: %v", name, err)
		}
	}
	if err := signing.Verify(h, body, now, 0, other); !errors.Is(err, signing.ErrSignature) {
		t.Errorf("Verify with an unrelated secret = %v, want ErrSignature", err)
	}
	// A receiver in the middle of its own rotation holds both secrets.
	if err := signing.Verify(h, body, now, 0, other, oldSecret); err != nil {
		t.Errorf("Verify with [other, old]: %v", err)
	}
}

func TestRetryKeepsIDChangesTimestamp(t *testing.T) {
	secret := newSecret(t)
	body := []byte(`{}`)
	first, retry := http.Header{}, http.Header{}
	now := time.Now()
	if err := signing.Sign(first, "msg_same", now.Add(-time.Minute), body, secret); err != nil {
		t.Fatal(err)
	}
	if err := signing.Sign(retry, "msg_same", now, body, secret); err != nil {
		t.Fatal(err)
	}
	if first.Get("webhook-id") != retry.Get("webhook-id") {
		t.Error("webhook-id differs between attempts")
	}
	if first.Get("webhook-timestamp") == retry.Get("webhook-timestamp") || first.Get("webhook-signature") == retry.Get("webhook-signature") {
		t.Error("timestamp and signature should be those of each attempt")
	}
	for _, h := range []http.Header{first, retry} {
		if err := libVerify(t, secret, body, h); err != nil {
			t.Error(err)
		}
	}
}

func TestVerifyRejects(t *testing.T) {
	secret := newSecret(t)
	body := []byte(`{"amount":100}`)
	at := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	signed := func() http.Header {
		h := http.Header{}
		if err := signing.Sign(h, "msg_1", at, body, secret); err != nil {
			t.Fatal(err)
		}
		return h
	}
	ts := strconv.FormatInt(at.Unix(), 10)
	cases := []struct {
		name   string
		change func(h http.Header) []byte // returns the body to verify
		now    time.Time
		tol    time.Duration
		want   string // in the message
	}{
		{"tampered body", func(http.Header) []byte { return []byte(`{"amount":900}`) }, at, 0, "no v1 signature matches"},
		{"empty body", func(http.Header) []byte { return nil }, at, 0, "no v1 signature matches"},
		{"tampered id", func(h http.Header) []byte { h.Set("webhook-id", "msg_2"); return body }, at, 0, "no v1 signature matches"},
		{"tampered timestamp", func(h http.Header) []byte {
			h.Set("webhook-timestamp", strconv.FormatInt(at.Unix()+1, 10))
			return body
		}, at, 0, "no v1 signature matches"},
		{"missing id", func(h http.Header) []byte { h.Del("webhook-id"); return body }, at, 0, "missing webhook-id"},
		{"missing timestamp", func(h http.Header) []byte { h.Del("webhook-timestamp"); return body }, at, 0, "missing webhook-timestamp"},
		{"missing signature", func(h http.Header) []byte { h.Del("webhook-signature"); return body }, at, 0, "missing webhook-signature"},
		{"empty signature", func(h http.Header) []byte { h.Set("webhook-signature", ""); return body }, at, 0, "missing webhook-signature"},
		{"signed timestamp not digits", func(h http.Header) []byte { h.Set("webhook-timestamp", "+"+ts); return body }, at, 0, "not a Unix time"},
		{"negative timestamp", func(h http.Header) []byte { h.Set("webhook-timestamp", "-1"); return body }, at, 0, "not a Unix time"},
		{"huge timestamp", func(h http.Header) []byte { h.Set("webhook-timestamp", strings.Repeat("9", 40)); return body }, at, 0, "not a Unix time"},
		{"no v1 entry", func(h http.Header) []byte { h.Set("webhook-signature", "v1a,abc v2,def"); return body }, at, 0, "no v1 signature"},
		{"v1 not base64", func(h http.Header) []byte { h.Set("webhook-signature", "v1,!!!"); return body }, at, 0, "no v1 signature"},
		{"v1 without comma", func(h http.Header) []byte {
			h.Set("webhook-signature", strings.Replace(h.Get("webhook-signature"), ",", "", 1))
			return body
		}, at, 0, "no v1 signature"},
		{"header too long", func(h http.Header) []byte {
			h.Set("webhook-signature", strings.Repeat("v1,x ", 2000)+h.Get("webhook-signature"))
			return body
		}, at, 0, "longer than"},
		{"too old", func(http.Header) []byte { return body }, at.Add(5*time.Minute + time.Second), 0, "outside the tolerance of 5m0s"},
		{"too new", func(http.Header) []byte { return body }, at.Add(-5*time.Minute - time.Second), 0, "outside the tolerance"},
		{"custom tolerance", func(http.Header) []byte { return body }, at.Add(31 * time.Second), 30 * time.Second, "outside the tolerance of 30s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := signed()
			b := c.change(h)
			err := signing.Verify(h, b, c.now, c.tol, secret)
			if !errors.Is(err, signing.ErrSignature) {
				t.Fatalf("Verify = %v, want ErrSignature", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
			if strings.Contains(err.Error(), secret[len("whsec_"):]) {
				t.Errorf("error contains the secret: %v", err)
			}
		})
	}
}

func TestVerifyTolerance(t *testing.T) {
	secret := newSecret(t)
	at := time.Unix(1_800_000_000, 0)
	h := http.Header{}
	if err := signing.Sign(h, "msg_t", at, nil, secret); err != nil {
		t.Fatal(err)
	}
	for _, d := range []time.Duration{0, 5 * time.Minute, -5 * time.Minute, time.Minute} {
		if err := signing.Verify(h, nil, at.Add(d), 0, secret); err != nil {
			t.Errorf("now = at%+v: %v", d, err)
		}
	}
	if err := signing.Verify(h, nil, at.Add(time.Hour), 2*time.Hour, secret); err != nil {
		t.Errorf("tolerance 2h, 1h late: %v", err)
	}
}

func TestVerifyIgnoresOtherVersionsAndSplitHeaders(t *testing.T) {
	secret := newSecret(t)
	at := time.Unix(1_800_000_000, 0)
	h := http.Header{}
	if err := signing.Sign(h, "msg_v", at, []byte("x"), secret); err != nil {
		t.Fatal(err)
	}
	good := h.Get("webhook-signature")
	h.Set("webhook-signature", "v1a,c29tZXRoaW5n v1,AAAA "+good)
	if err := signing.Verify(h, []byte("x"), at, 0, secret); err != nil {
		t.Errorf("with other entries first: %v", err)
	}
	h.Del("webhook-signature")
	h.Add("webhook-signature", "v1,AAAA")
	h.Add("webhook-signature", good)
	if err := signing.Verify(h, []byte("x"), at, 0, secret); err != nil {
		t.Errorf("with the entries on two field lines: %v", err)
	}
}

func TestVerifyConfigurationErrors(t *testing.T) {
	h := http.Header{}
	if err := signing.Sign(h, "msg_c", time.Unix(specTimestamp, 0), nil, specSecret); err != nil {
		t.Fatal(err)
	}
	for name, secrets := range map[string][]string{"none": nil, "invalid": {"whsec_short"}} {
		err := signing.Verify(h, nil, time.Unix(specTimestamp, 0), 0, secrets...)
		if err == nil || errors.Is(err, signing.ErrSignature) {
			t.Errorf("%s: Verify = %v, want a configuration error without ErrSignature", name, err)
		}
	}
}

func TestNewSecret(t *testing.T) {
	seen := map[string]bool{}
	for range 20 {
		s := newSecret(t)
		if !strings.HasPrefix(s, "whsec_") {
			t.Fatalf("%q has no whsec_ prefix", s)
		}
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
		if err != nil || len(key) < 24 || len(key) > 32 {
			t.Fatalf("secret decodes to %d bytes (%v), want 24..32", len(key), err)
		}
		if err := signing.ValidSecret(s); err != nil {
			t.Fatalf("ValidSecret(NewSecret()) = %v", err)
		}
		if seen[s] {
			t.Fatal("NewSecret repeated a secret")
		}
		seen[s] = true
	}
}

func TestValidSecret(t *testing.T) {
	enc := func(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }
	cases := []struct {
		secret string
		want   string // "" = valid
	}{
		{"whsec_" + enc(16), ""},
		{"whsec_" + enc(24), ""},
		{"whsec_" + enc(64), ""},
		{specSecret, ""},
		{enc(32), `does not start with "whsec_"`},
		{"WHSEC_" + enc(32), `does not start with "whsec_"`},
		{"whsec_" + enc(15), "decodes to 15 bytes, expected 16 to 64"},
		{"whsec_" + enc(65), "decodes to 65 bytes"},
		{"whsec_", "decodes to 0 bytes"},
		{"whsec_" + strings.TrimRight(enc(32), "="), "not valid standard base64"},
		{"whsec_" + strings.ReplaceAll(enc(30)+"-_", "A", "-"), "not valid standard base64"},
		{"whsec_" + enc(32) + " ", "not valid standard base64"},
		{"whsec_sec ret with spaces and more text", "not valid standard base64"},
	}
	for _, c := range cases {
		err := signing.ValidSecret(c.secret)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("ValidSecret(%q) = %v, want nil", c.secret, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("ValidSecret(%q) = %v, want an error saying %q", c.secret, err, c.want)
		case err != nil && len(c.secret) > len("whsec_")+2 && strings.Contains(err.Error(), strings.TrimPrefix(c.secret, "whsec_")):
			t.Errorf("error repeats the secret: %v", err)
		}
	}
}

func TestSignErrors(t *testing.T) {
	secret := newSecret(t)
	for _, id := range []string{"", "msg 1", "msg\n1", "msg_é", strings.Repeat("a", 256)} {
		if err := signing.Sign(http.Header{}, id, time.Now(), nil, secret); err == nil {
			t.Errorf("Sign accepted message id %q", id)
		}
	}
	if err := signing.Sign(http.Header{}, strings.Repeat("a", 255), time.Now(), nil, secret); err != nil {
		t.Errorf("Sign refused a 255-byte id: %v", err)
	}
	if err := signing.Sign(http.Header{}, "msg_1", time.Now(), nil); err == nil {
		t.Error("Sign accepted no secret")
	}
	bad := "whsec_c2VjcmV0LXRoYXQtaXMtdG9vLXNob3J0"[:20]
	err := signing.Sign(http.Header{}, "msg_1", time.Now(), nil, secret, bad)
	if err == nil || !strings.Contains(err.Error(), "secret 2 of 2") || strings.Contains(err.Error(), bad[6:]) {
		t.Errorf("Sign with a bad second secret = %v, want an error naming it by position only", err)
	}
	h := http.Header{"Webhook-Id": {"keep"}}
	if err := signing.Sign(h, "msg_1", time.Now(), nil, bad); err == nil || h.Get("webhook-id") != "keep" {
		t.Errorf("a failed Sign changed the headers (err %v)", err)
	}
}

func TestSignSimple(t *testing.T) {
	body := []byte(specPayload)
	// Computed independently (Python hmac) with the key base64-decoded from specSecret.
	const (
		want256 = "sha256=e2cb4f5251572539d458bfb8a7adb533b08801e6a794467e06f771debbb0818b"
		want512 = "sha512=65804ba1946762f23ef1445e3f23a487d6d34905c5bc30ff25cf3f4dfb5be9706b9fae3ca748e693471f425590c2c8d19a26121df3608a384aee08be9e0517e0"
	)
	for _, c := range []struct{ alg, want string }{{"", want256}, {"sha256", want256}, {"sha512", want512}} {
		h := http.Header{}
		if err := signing.SignSimple(h, "X-Webhook-Signature", c.alg, body, specSecret); err != nil {
			t.Fatal(err)
		}
		if got := h.Get("X-Webhook-Signature"); got != c.want {
			t.Errorf("algorithm %q: %q, want %q", c.alg, got, c.want)
		}
	}
	other := newSecret(t)
	h := http.Header{}
	if err := signing.SignSimple(h, "X-Webhook-Signature", "sha256", body, specSecret, other); err != nil {
		t.Fatal(err)
	}
	got := h.Get("X-Webhook-Signature")
	first, second, ok := strings.Cut(got, ", ")
	if !ok || first != want256 || !strings.HasPrefix(second, "sha256=") || len(second) != len(want256) || second == first {
		t.Errorf("rotation: %q, want %q, sha256=<other>", got, want256)
	}

	for _, c := range []struct{ header, alg string }{{"", "sha256"}, {"X Sig", "sha256"}, {"X-Sig\r\nEvil", "sha256"}, {"X-Sig", "sha1"}, {"X-Sig", "SHA256"}} {
		if err := signing.SignSimple(http.Header{}, c.header, c.alg, body, specSecret); err == nil {
			t.Errorf("SignSimple(%q, %q) accepted", c.header, c.alg)
		}
	}
	if err := signing.SignSimple(http.Header{}, "X-Sig", "sha256", body, "not-a-secret"); err == nil {
		t.Error("SignSimple accepted an invalid secret")
	}
	if err := signing.SignSimple(http.Header{}, "X-Sig", "sha256", body); err == nil {
		t.Error("SignSimple accepted no secret")
	}
}
