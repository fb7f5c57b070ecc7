package signing

import (
	"crypto/hmac"
	"crypto/rand"
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
	"time"

	"golang.org/x/net/http/httpguts"
)

// The Standard Webhooks header names. http.Header canonicalises them ("Webhook-Id");
// header names are case-insensitive on the wire.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every endpoint secret; it lets secret scanners recognise leaked
// secrets and tells them apart from other base64 strings.
const SecretPrefix = "whsec_"

// Secret sizes in bytes (decoded). The lower bound keeps brute force out of reach; the
// upper bound is one SHA-512 block of key, beyond which HMAC hashes the key first and a
// longer secret adds nothing.
const (
	MinSecretBytes = 16
	MaxSecretBytes = 64
	newSecretBytes = 32
)

// DefaultTolerance is how far a webhook-timestamp may be from the verifier's clock, in
// either direction, when Verify is given no tolerance: the Standard Webhooks default,
// wide enough for clock skew and queueing, narrow enough to limit replays.
const DefaultTolerance = 5 * time.Minute

// maxMessageID bounds the message id Sign accepts; receivers store it for dedupe.
const maxMessageID = 255

// maxSignatureHeader bounds the webhook-signature value Verify parses (one entry is 48
// bytes), so a hostile header cannot make it do unbounded work.
const maxSignatureHeader = 8 << 10

// ErrSignature is wrapped by every verification failure: a missing or malformed header,
// a timestamp outside the tolerance, or no matching signature. Errors that do not wrap
// it are the verifier's own configuration errors.
var ErrSignature = errors.New("webhook signature not valid")

var b64 = base64.StdEncoding

// NewSecret returns a new endpoint secret: "whsec_" and the base64 of 32 random bytes.
func NewSecret() (string, error) {
	b := make([]byte, newSecretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("signing: new secret: %w", err)
	}
	return SecretPrefix + b64.EncodeToString(b), nil
}

// ValidSecret reports whether s is a usable endpoint secret: "whsec_" followed by
// standard base64 (with padding) of 16 to 64 bytes. The error says what is wrong without
// repeating the secret.
func ValidSecret(s string) error {
	_, err := secretKey(s)
	return err
}

// secretKey returns the HMAC key of a secret: the bytes its base64 part decodes to.
func secretKey(s string) ([]byte, error) {
	enc, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok {
		return nil, errors.New(`secret does not start with "whsec_"`)
	}
	key, err := b64.Strict().DecodeString(enc)
	if err != nil {
		// The base64 error names an offset only, never the input.
		return nil, fmt.Errorf("secret is not valid standard base64 after \"whsec_\": %w", err)
	}
	if len(key) < MinSecretBytes || len(key) > MaxSecretBytes {
		return nil, fmt.Errorf("secret decodes to %d bytes, expected %d to %d", len(key), MinSecretBytes, MaxSecretBytes)
	}
	return key, nil
}

// secretKeys decodes every secret, naming a bad one by position (never by value).
func secretKeys(secrets []string) ([][]byte, error) {
	if len(secrets) == 0 {
		return nil, errors.New("no secret given")
	}
	keys := make([][]byte, len(secrets))
	for i, s := range secrets {
		k, err := secretKey(s)
		if err != nil {
			return nil, fmt.Errorf("secret %d of %d: %w", i+1, len(secrets), err)
		}
		keys[i] = k
	}
	return keys, nil
}

// validMessageID: 1..255 bytes of visible ASCII, so the id is a safe header value and a
// reasonable dedupe key.
func validMessageID(id string) bool {
	if id == "" || len(id) > maxMessageID {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

// Sign sets the Standard Webhooks headers on h for one delivery attempt of message
// msgID made at time at, signing body with every secret (one v1 entry each, in order).
// Existing values of the three headers are replaced.
func Sign(h http.Header, msgID string, at time.Time, body []byte, secrets ...string) error {
	if !validMessageID(msgID) {
		return errors.New("signing: message id must be 1 to 255 bytes of visible ASCII")
	}
	keys, err := secretKeys(secrets)
	if err != nil {
		return fmt.Errorf("signing: %w", err)
	}
	ts := strconv.FormatInt(at.Unix(), 10)
	var sig strings.Builder
	for i, k := range keys {
		if i > 0 {
			sig.WriteByte(' ')
		}
		sig.WriteString("v1,")
		sig.WriteString(b64.EncodeToString(standardMAC(k, msgID, ts, body)))
	}
	h.Set(HeaderID, msgID)
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderSignature, sig.String())
	return nil
}

// standardMAC is HMAC-SHA256(key, id "." ts "." body), written piecewise so the body is
// not copied.
func standardMAC(key []byte, id, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks the Standard Webhooks headers in h against body: the timestamp must be
// within tolerance of now in either direction (a non-positive tolerance means
// DefaultTolerance) and one v1 signature must match one of the secrets. Verification
// failures wrap ErrSignature and say which check failed; a missing or invalid secret is
// reported without it.
func Verify(h http.Header, body []byte, now time.Time, tolerance time.Duration, secrets ...string) error {
	keys, err := secretKeys(secrets)
	if err != nil {
		return fmt.Errorf("standard webhooks: %w", err)
	}
	id, ts, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Values(HeaderSignature)
	switch {
	case id == "":
		return failf("missing %s header", HeaderID)
	case ts == "":
		return failf("missing %s header", HeaderTimestamp)
	case len(sigs) == 0 || (len(sigs) == 1 && sigs[0] == ""):
		return failf("missing %s header", HeaderSignature)
	}
	t, ok := parseUnix(ts)
	if !ok {
		return failf("%s is not a Unix time in seconds", HeaderTimestamp)
	}
	if err := checkTimestamp(HeaderTimestamp, t, now, tolerance); err != nil {
		return err
	}
	// A proxy may split a long header into several field lines; the entries are the
	// same either way.
	all := strings.Join(sigs, " ")
	if len(all) > maxSignatureHeader {
		return failf("%s longer than %d bytes", HeaderSignature, maxSignatureHeader)
	}
	var got [][]byte
	for entry := range strings.FieldsSeq(all) {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue // other versions (v1a: asymmetric) are not ours to check
		}
		if b, err := b64.DecodeString(sig); err == nil && len(b) == sha256.Size {
			got = append(got, b)
		}
	}
	if len(got) == 0 {
		return failf("%s has no v1 signature", HeaderSignature)
	}
	for _, k := range keys {
		want := standardMAC(k, id, ts, body)
		for _, g := range got {
			if hmac.Equal(g, want) {
				return nil
			}
		}
	}
	return failf("no v1 signature matches")
}

// checkTimestamp refuses a signed timestamp t (Unix seconds, from the header named name)
// further than tolerance from now in either direction; a non-positive tolerance means
// DefaultTolerance.
func checkTimestamp(name string, t int64, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	// Sub saturates instead of overflowing, so absurd timestamps land outside any
	// tolerance rather than wrapping around into it. Future timestamps are refused too:
	// otherwise a signature made with a skewed clock would stay replayable for longer.
	age := now.Sub(time.Unix(t, 0))
	if age > tolerance || age < -tolerance {
		return failf("%s is %v from now, outside the tolerance of %v", name, age.Round(time.Second), tolerance)
	}
	return nil
}

// parseUnix parses a Unix time in seconds written as plain decimal digits (no sign, at
// most 18 digits, so it fits an int64).
func parseUnix(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false // ParseInt would take "+5" and "-0"
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

func failf(format string, args ...any) error {
	return fmt.Errorf("standard webhooks: %w: %s", ErrSignature, fmt.Sprintf(format, args...))
}

// SignSimple sets the seed's signature form on h: header = "<algorithm>=<hex HMAC of
// body>" for each secret, joined by ", ". algorithm is sha256 (also when empty) or
// sha512; the key is the base64-decoded secret, as for Sign (see doc.go).
func SignSimple(h http.Header, header, algorithm string, body []byte, secrets ...string) error {
	if !httpguts.ValidHeaderFieldName(header) {
		return fmt.Errorf("signing: %q is not a valid header name", header)
	}
	if algorithm == "" {
		algorithm = "sha256"
	}
	newHash, err := Hash(algorithm)
	if err != nil {
		return fmt.Errorf("signing: %w", err)
	}
	keys, err := secretKeys(secrets)
	if err != nil {
		return fmt.Errorf("signing: %w", err)
	}
	entries := make([]string, len(keys))
	for i, k := range keys {
		m := hmac.New(newHash, k)
		m.Write(body)
		entries[i] = algorithm + "=" + hex.EncodeToString(m.Sum(nil))
	}
	h.Set(header, strings.Join(entries, ", "))
	return nil
}

// Hash returns the hash of an HMAC algorithm name: sha256 (also for "") or sha512. The
// outbound credentials and inbound verification use it too, so every HMAC in Junction
// accepts the same names.
func Hash(algorithm string) (func() hash.Hash, error) {
	switch algorithm {
	case "", "sha256":
		return sha256.New, nil
	case "sha512":
		return sha512.New, nil
	}
	return nil, fmt.Errorf("unsupported algorithm %q: expected sha256 or sha512", algorithm)
}
