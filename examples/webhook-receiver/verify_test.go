package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/webhook/signing"
)

// TestVerifyMatchesJunctionsSigning: what the README tells receivers to check is what
// Junction signs, in both header forms and across a secret rotation.
func TestVerifyMatchesJunctionsSigning(t *testing.T) {
	current, _ := signing.NewSecret()
	previous, _ := signing.NewSecret()
	body := []byte(`{"id":"evt_1","type":"order.created","timestamp":"2026-01-02T03:04:05Z","data":{"n":1}}`)
	now := time.Now()
	signed := func(secrets ...string) http.Header {
		h := http.Header{}
		if err := signing.Sign(h, "msg_1", now, body, secrets...); err != nil {
			t.Fatal(err)
		}
		if err := signing.SignSimple(h, "X-Webhook-Signature", "sha256", body, secrets...); err != nil {
			t.Fatal(err)
		}
		return h
	}
	for name, secret := range map[string]string{"current": current, "previous": previous} {
		if err := verify(secret, signed(current, previous), body, now); err != nil {
			t.Errorf("%s secret during the overlap: %v", name, err)
		}
	}
	if err := verify(previous, signed(current), body, now); err == nil {
		t.Error("another secret verified")
	}
	if err := verify(current, signed(current), []byte(`{"tampered":true}`), now); err == nil {
		t.Error("a changed body verified")
	}
	if err := verify(current, signed(current), body, now.Add(10*time.Minute)); err == nil {
		t.Error("an old timestamp verified")
	}
	h := signed(current)
	h.Set("X-Webhook-Signature", "sha256=00")
	if err := verify(current, h, body, now); err == nil {
		t.Error("a bad X-Webhook-Signature verified")
	}
}
