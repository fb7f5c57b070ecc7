package inbound

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/junctionhq/junction/internal/webhook/signing"
	"golang.org/x/net/http/httpguts"

	"github.com/junctionhq/junction/internal/clock"
)

// Scheme is how a source signs its webhooks.
type Scheme string

// The verification schemes (config.VerifySchemes).
const (
	StandardWebhooks Scheme = "standard_webhooks"
	GitHub           Scheme = "github"
	Stripe           Scheme = "stripe"
	HMAC             Scheme = "hmac"
)

// DefaultTolerance is the timestamp tolerance of standard_webhooks and stripe when
// Verifier.Tolerance is not set; both providers document five minutes.
const DefaultTolerance = 5 * time.Minute

// The headers the provider schemes use.
const (
	HeaderGitHubSignature = "X-Hub-Signature-256"
	HeaderGitHubDelivery  = "X-GitHub-Delivery"
	HeaderStripeSignature = "Stripe-Signature"
)

// ErrSignature is wrapped by every verification failure. It is signing.ErrSignature
// itself, so one errors.Is test covers the Standard Webhooks checks delegated to that
// package as well as the others.
var ErrSignature = signing.ErrSignature

const (
	// maxHeader bounds each signature header parsed: real ones are under 300 bytes, and
	// the bound stops a hostile header from buying unbounded HMAC work or allocation.
	maxHeader = 8 << 10
	// maxProviderID bounds the delivery id, which is stored and logged.
	maxProviderID = 255
)

// Verifier verifies one source's webhooks. The zero Tolerance and a nil Clock mean
// DefaultTolerance and the wall clock. A Verifier is a value with no state of its own;
// it is safe for concurrent use as long as nobody changes its fields.
type Verifier struct {
	Scheme Scheme
	// Secrets: "whsec_<base64>" for standard_webhooks (the key is the decoded part); the
	// provider's secret as shown, used as raw bytes, for github, stripe and hmac. Any
	// one matching verifies, for rotation.
	Secrets   []string
	Header    string        // hmac: the header carrying the digest
	Algorithm string        // hmac: sha256 (default) or sha512
	IDHeader  string        // hmac: optional header carrying the provider's delivery id
	Tolerance time.Duration // standard_webhooks and stripe: timestamp tolerance
	Clock     clock.Clock
}

// Verify checks the request's signature and returns the provider's delivery id, used to
// drop duplicates: webhook-id (standard_webhooks), X-GitHub-Delivery (github), the
// event "id" from the JSON body (stripe), and for hmac the IDHeader value or else the
// hex SHA-256 of the body. body must be the exact bytes received.
//
// Every verification failure wraps ErrSignature and says which check failed; other
// errors are configuration errors of the Verifier.
func (v Verifier) Verify(h http.Header, body []byte) (providerID string, err error) {
	if err := v.Check(); err != nil {
		return "", err
	}
	switch v.Scheme {
	case StandardWebhooks:
		return v.standard(h, body)
	case GitHub:
		return v.github(h, body)
	case Stripe:
		return v.stripe(h, body)
	default: // HMAC; Check refused anything else
		return v.hmac(h, body)
	}
}

// Check reports configuration errors, which are not ErrSignature: the caller must treat
// them as its own fault, not the sender's. Verify makes the same check first; a source
// checks its Verifier when it is built, so that it is known to be misconfigured before
// a provider's webhook says so. The errors never hold a secret.
func (v Verifier) Check() error {
	if err := v.check(); err != nil {
		return fmt.Errorf("inbound: %w", err)
	}
	return nil
}

func (v Verifier) check() error {
	switch v.Scheme {
	case StandardWebhooks, GitHub, Stripe, HMAC:
	default:
		return fmt.Errorf("unknown verification scheme %q: expected standard_webhooks, github, stripe or hmac", v.Scheme)
	}
	if len(v.Secrets) == 0 {
		return fmt.Errorf("%s: no secret", v.Scheme)
	}
	for i, s := range v.Secrets {
		if s == "" {
			return fmt.Errorf("%s: secret %d of %d is empty", v.Scheme, i+1, len(v.Secrets))
		}
		if v.Scheme == StandardWebhooks {
			if err := signing.ValidSecret(s); err != nil {
				return fmt.Errorf("%s: secret %d of %d: %w", v.Scheme, i+1, len(v.Secrets), err)
			}
		}
	}
	if v.Scheme == HMAC {
		if !httpguts.ValidHeaderFieldName(v.Header) {
			return fmt.Errorf("hmac: header %q is not a valid header name", v.Header)
		}
		if v.IDHeader != "" && !httpguts.ValidHeaderFieldName(v.IDHeader) {
			return fmt.Errorf("hmac: id header %q is not a valid header name", v.IDHeader)
		}
		if _, err := signing.Hash(v.Algorithm); err != nil {
			return fmt.Errorf("hmac: %w", err)
		}
	}
	return nil
}

func (v Verifier) now() time.Time {
	if v.Clock == nil {
		return clock.Real{}.Now()
	}
	return v.Clock.Now()
}

func (v Verifier) tolerance() time.Duration {
	if v.Tolerance <= 0 {
		return DefaultTolerance
	}
	return v.Tolerance
}

func fail(scheme Scheme, format string, args ...any) error {
	return fmt.Errorf("inbound %s: %w: %s", scheme, ErrSignature, fmt.Sprintf(format, args...))
}

func (v Verifier) standard(h http.Header, body []byte) (string, error) {
	if err := signing.Verify(h, body, v.now(), v.tolerance(), v.Secrets...); err != nil {
		return "", fmt.Errorf("inbound: %w", err)
	}
	return providerID(StandardWebhooks, signing.HeaderID, h.Get(signing.HeaderID))
}

func (v Verifier) github(h http.Header, body []byte) (string, error) {
	value := h.Get(HeaderGitHubSignature)
	if value == "" {
		return "", fail(GitHub, "missing %s header", HeaderGitHubSignature)
	}
	hexSig, ok := strings.CutPrefix(value, "sha256=")
	if !ok {
		return "", fail(GitHub, `%s does not start with "sha256="`, HeaderGitHubSignature)
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || len(got) != sha256.Size {
		return "", fail(GitHub, "%s is not 64 hexadecimal digits after \"sha256=\"", HeaderGitHubSignature)
	}
	if !matchAny(v.Secrets, sha256.New, nil, body, [][]byte{got}) {
		return "", fail(GitHub, "%s does not match", HeaderGitHubSignature)
	}
	return providerID(GitHub, HeaderGitHubDelivery, h.Get(HeaderGitHubDelivery))
}

func (v Verifier) stripe(h http.Header, body []byte) (string, error) {
	value := h.Get(HeaderStripeSignature)
	if value == "" {
		return "", fail(Stripe, "missing %s header", HeaderStripeSignature)
	}
	if len(value) > maxHeader {
		return "", fail(Stripe, "%s longer than %d bytes", HeaderStripeSignature, maxHeader)
	}
	var (
		ts   string
		sigs [][]byte
	)
	for item := range strings.SplitSeq(value, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			return "", fail(Stripe, "%s has an entry without '='", HeaderStripeSignature)
		}
		switch k {
		case "t":
			if ts != "" {
				return "", fail(Stripe, "%s has more than one t", HeaderStripeSignature)
			}
			if val == "" {
				return "", fail(Stripe, "%s has an empty t", HeaderStripeSignature)
			}
			ts = val
		case "v1":
			// Like Stripe's libraries, skip an undecodable v1 rather than fail: another
			// v1 may still match.
			if b, err := hex.DecodeString(val); err == nil && len(b) == sha256.Size {
				sigs = append(sigs, b)
			}
		}
	}
	if ts == "" {
		return "", fail(Stripe, "%s has no t", HeaderStripeSignature)
	}
	t, ok := parseUnix(ts)
	if !ok {
		return "", fail(Stripe, "%s t is not a Unix time in seconds", HeaderStripeSignature)
	}
	if len(sigs) == 0 {
		return "", fail(Stripe, "%s has no valid v1 signature", HeaderStripeSignature)
	}
	if err := checkTimestamp(Stripe, t, v.now(), v.tolerance()); err != nil {
		return "", err
	}
	// Stripe signs "<t>.<body>" with t exactly as it appears in the header.
	if !matchAny(v.Secrets, sha256.New, []byte(ts+"."), body, sigs) {
		return "", fail(Stripe, "no v1 signature in %s matches", HeaderStripeSignature)
	}
	var event struct {
		ID *string `json:"id"`
	}
	if err := json.Unmarshal(body, &event); err != nil {
		return "", fail(Stripe, "body is not a JSON event object")
	}
	if event.ID == nil || *event.ID == "" {
		return "", fail(Stripe, "event has no id")
	}
	return providerID(Stripe, "event id", *event.ID)
}

func (v Verifier) hmac(h http.Header, body []byte) (string, error) {
	newHash, _ := signing.Hash(v.Algorithm) // Check validated it
	alg := v.Algorithm
	if alg == "" {
		alg = "sha256"
	}
	values := h.Values(v.Header)
	value := strings.Join(values, ",")
	if strings.TrimSpace(value) == "" {
		return "", fail(HMAC, "missing %s header", v.Header)
	}
	if len(value) > maxHeader {
		return "", fail(HMAC, "%s longer than %d bytes", v.Header, maxHeader)
	}
	size := newHash().Size()
	var got [][]byte
	for entry := range strings.SplitSeq(value, ",") {
		if d := decodeDigest(strings.TrimSpace(entry), alg, size); d != nil {
			got = append(got, d)
		}
	}
	if len(got) == 0 {
		return "", fail(HMAC, "%s holds no %s digest (%s=<hex>, hex or base64)", v.Header, alg, alg)
	}
	if !matchAny(v.Secrets, newHash, nil, body, got) {
		return "", fail(HMAC, "%s does not match", v.Header)
	}
	if v.IDHeader != "" {
		if id := h.Get(v.IDHeader); id != "" {
			return providerID(HMAC, v.IDHeader, id)
		}
	}
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:]), nil
}

// decodeDigest reads one hmac entry: "<alg>=<hex>", bare hex, or base64 in any common
// variant; the decoded length must be the digest size, which also tells hex from base64
// (64 hex digits would decode as base64 to 48 bytes, not 32). nil means unusable.
func decodeDigest(entry, alg string, size int) []byte {
	if p, rest, ok := strings.Cut(entry, "="); ok && strings.EqualFold(p, alg) {
		if b, err := hex.DecodeString(rest); err == nil && len(b) == size {
			return b
		}
		return nil
	}
	if len(entry) == 2*size {
		if b, err := hex.DecodeString(entry); err == nil {
			return b
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(entry); err == nil && len(b) == size {
			return b
		}
	}
	return nil
}

// matchAny reports whether HMAC(secret, prefix+body) equals one of got for one of the
// secrets. Every comparison is constant-time, and all are made, so the time taken does
// not tell which secret or entry came close.
func matchAny(secrets []string, newHash func() hash.Hash, prefix, body []byte, got [][]byte) bool {
	matched := false
	for _, s := range secrets {
		m := hmac.New(newHash, []byte(s))
		m.Write(prefix)
		m.Write(body)
		want := m.Sum(nil)
		for _, g := range got {
			if hmac.Equal(g, want) {
				matched = true
			}
		}
	}
	return matched
}

// providerID checks a delivery id before it is stored and logged.
func providerID(scheme Scheme, source, id string) (string, error) {
	if id == "" {
		return "", fail(scheme, "missing %s", source)
	}
	if len(id) > maxProviderID {
		return "", fail(scheme, "%s longer than %d bytes", source, maxProviderID)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x20 || c == 0x7f {
			return "", fail(scheme, "%s contains a control character", source)
		}
	}
	return id, nil
}

func checkTimestamp(scheme Scheme, t int64, now time.Time, tolerance time.Duration) error {
	// Sub saturates instead of overflowing, so absurd timestamps land outside any
	// tolerance rather than wrapping around into it.
	age := now.Sub(time.Unix(t, 0))
	if age > tolerance || age < -tolerance {
		return fail(scheme, "timestamp is %v from now, outside the tolerance of %v", age.Round(time.Second), tolerance)
	}
	return nil
}

// parseUnix: plain decimal digits only (ParseInt would also take "+5" and "-0"), at
// most 18 so the value fits an int64.
func parseUnix(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
