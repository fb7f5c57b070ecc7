package credential

import (
	"context"
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/junctionhq/junction/internal/webhook/signing"
	"golang.org/x/net/http/httpguts"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/config"
)

// DefaultHMACTolerance is the timestamp tolerance VerifyHMAC uses when given none: wide
// enough for ordinary clock skew and queueing, narrow enough to limit replays.
const DefaultHMACTolerance = 5 * time.Minute

// Errors VerifyHMAC wraps, so a receiver can tell a malformed header from a forgery.
var (
	ErrHMACMalformed = errors.New("malformed signature header")
	ErrHMACExpired   = errors.New("signature timestamp outside the tolerance")
	ErrHMACMismatch  = errors.New("signature does not match")
)

// hmacSigner is Junction's own request signature; the scheme is in doc.go.
type hmacSigner struct {
	secret    []byte
	header    string
	algorithm string
	clock     clock.Clock
}

func newHMAC(r *resolver, a *config.Auth, opts Options) (Applier, error) {
	secret := r.required("secret", a.Secret)
	if !httpguts.ValidHeaderFieldName(a.Header) {
		return nil, fmt.Errorf("auth hmac: header %q is not a valid header name", a.Header)
	}
	alg := a.Algorithm
	if alg == "" {
		alg = "sha256"
	}
	if _, err := signing.Hash(alg); err != nil {
		return nil, fmt.Errorf("auth hmac: %w", err)
	}
	return &hmacSigner{secret: []byte(secret), header: a.Header, algorithm: alg, clock: opts.Clock}, nil
}

// Apply sets the signature header, signing the request as it will be sent: the method,
// the request target (path and raw query, as written on the request line) and body.
func (h *hmacSigner) Apply(_ context.Context, req *http.Request, body []byte) error {
	t := h.clock.Now().Unix()
	mac, err := hmacHex(h.secret, h.algorithm, t, requestMethod(req), req.URL.RequestURI(), body)
	if err != nil {
		return fmt.Errorf("credential: hmac: %w", err)
	}
	req.Header.Set(h.header, "t="+strconv.FormatInt(t, 10)+",v1="+mac)
	return nil
}

// Rejected is false: the same secret signs the retry, so retrying cannot help.
func (h *hmacSigner) Rejected(context.Context, *http.Request) bool { return false }

func (h *hmacSigner) Secrets() []string { return []string{string(h.secret)} }
func (h *hmacSigner) String() string    { return string(config.AuthHMAC) }
func (h *hmacSigner) GoString() string  { return h.String() }

// requestMethod is the method net/http will send: "" means GET.
func requestMethod(req *http.Request) string {
	if req.Method == "" {
		return http.MethodGet
	}
	return req.Method
}

// hmacHex computes the v1 signature: hex(HMAC(secret, "<t>.<METHOD>.<pathAndQuery>.<body>")).
func hmacHex(secret []byte, algorithm string, t int64, method, pathAndQuery string, body []byte) (string, error) {
	sum, err := hmacSum(secret, algorithm, t, method, pathAndQuery, body)
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(sum), nil
}

func hmacSum(secret []byte, algorithm string, t int64, method, pathAndQuery string, body []byte) ([]byte, error) {
	newHash, err := signing.Hash(algorithm)
	if err != nil {
		return nil, err
	}
	m := hmac.New(newHash, secret)
	m.Write([]byte(strconv.FormatInt(t, 10)))
	m.Write([]byte{'.'})
	m.Write([]byte(method))
	m.Write([]byte{'.'})
	m.Write([]byte(pathAndQuery))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil), nil
}

// VerifyHMAC checks a signature header produced by an hmac Applier, for receivers (and
// tests). method is the request method, pathAndQuery the request target as received
// (r.RequestURI on a Go server, or r.URL.RequestURI()), body the exact body bytes. The
// timestamp must lie within tolerance of now, in either direction (a non-positive
// tolerance means DefaultHMACTolerance). Several v1 entries are allowed, so a sender can
// sign with an old and a new secret during rotation; one must match. Unknown entries are
// ignored, leaving room for later schemes. The comparison is constant-time.
//
// The error wraps ErrHMACMalformed, ErrHMACExpired or ErrHMACMismatch, or reports an
// unsupported algorithm; it never contains the secret or the expected signature.
func VerifyHMAC(secret []byte, algorithm, headerValue, method, pathAndQuery string, body []byte, now time.Time, tolerance time.Duration) error {
	if _, err := signing.Hash(algorithm); err != nil {
		return fmt.Errorf("hmac: %w", err)
	}
	t, sigs, err := parseHMACHeader(headerValue)
	if err != nil {
		return fmt.Errorf("hmac: %w", err)
	}
	if tolerance <= 0 {
		tolerance = DefaultHMACTolerance
	}
	// Sub saturates instead of overflowing, so absurd timestamps land outside any
	// tolerance rather than wrapping around into it.
	if age := now.Sub(time.Unix(t, 0)); age > tolerance || age < -tolerance {
		return fmt.Errorf("hmac: timestamp %d is %v from now: %w", t, age.Round(time.Second), ErrHMACExpired)
	}
	want, err := hmacSum(secret, algorithm, t, method, pathAndQuery, body)
	if err != nil {
		return fmt.Errorf("hmac: %w", err)
	}
	for _, s := range sigs {
		got, err := hex.DecodeString(s)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("hmac: %w", ErrHMACMismatch)
}

// maxHMACHeader bounds the header VerifyHMAC parses: the real one is under 200 bytes.
const maxHMACHeader = 4096

// parseHMACHeader splits "t=<unix>,v1=<hex>[,v1=<hex>…]" into the timestamp and the v1
// signatures. Exactly one t is required, and at least one v1.
func parseHMACHeader(v string) (int64, []string, error) {
	if len(v) > maxHMACHeader {
		return 0, nil, fmt.Errorf("header longer than %d bytes: %w", maxHMACHeader, ErrHMACMalformed)
	}
	var (
		t    int64
		hasT bool
		sigs []string
	)
	for item := range strings.SplitSeq(v, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			return 0, nil, fmt.Errorf("entry without '=': %w", ErrHMACMalformed)
		}
		switch k {
		case "t":
			if hasT {
				return 0, nil, fmt.Errorf("more than one t: %w", ErrHMACMalformed)
			}
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || val[0] < '0' || val[0] > '9' { // no sign: ParseInt takes "+5" and "-0"
				return 0, nil, fmt.Errorf("t is not a Unix time in seconds: %w", ErrHMACMalformed)
			}
			t, hasT = n, true
		case "v1":
			sigs = append(sigs, val)
		}
	}
	if !hasT {
		return 0, nil, fmt.Errorf("no t: %w", ErrHMACMalformed)
	}
	if len(sigs) == 0 {
		return 0, nil, fmt.Errorf("no v1: %w", ErrHMACMalformed)
	}
	return t, sigs, nil
}
