package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// verify checks a delivery's signatures as a receiver should. The key is NOT the secret
// string: it is the bytes that the part after "whsec_" decodes to (standard base64).
//
//   - webhook-signature holds space-separated "v1,<base64 HMAC-SHA256>" entries (two
//     while a rotated secret overlaps: accept any match) of
//     "<webhook-id>.<webhook-timestamp>.<raw body>"; the timestamp (Unix seconds) must
//     be recent, here within 5 minutes, to refuse replays.
//   - X-Webhook-Signature, sent only when the delivery settings have a signature block,
//     holds ", "-separated "sha256=<hex HMAC-SHA256 of the raw body>" entries, same key.
func verify(secret string, h http.Header, body []byte, now time.Time) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return errors.New("the secret is not whsec_ and base64")
	}
	ts, err := strconv.ParseInt(h.Get("webhook-timestamp"), 10, 64)
	if err != nil || now.Sub(time.Unix(ts, 0)).Abs() > 5*time.Minute {
		return errors.New("webhook-timestamp missing or not within 5 minutes")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(h.Get("webhook-id") + "." + h.Get("webhook-timestamp") + "."))
	mac.Write(body)
	if !anyMatch(strings.Fields(h.Get("webhook-signature")), "v1,", base64.StdEncoding.EncodeToString(mac.Sum(nil))) {
		return errors.New("no webhook-signature entry matches")
	}
	if simple := h.Get("X-Webhook-Signature"); simple != "" {
		mac := hmac.New(sha256.New, key)
		mac.Write(body)
		if !anyMatch(strings.Split(simple, ", "), "sha256=", hex.EncodeToString(mac.Sum(nil))) {
			return errors.New("no X-Webhook-Signature entry matches")
		}
	}
	return nil
}

// anyMatch reports whether one of the entries is prefix+want, compared in constant time.
func anyMatch(entries []string, prefix, want string) bool {
	for _, e := range entries {
		if hmac.Equal([]byte(e), []byte(prefix+want)) {
			return true
		}
	}
	return false
}
