package inbound_test

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/inbound"
	"github.com/junctionhq/junction/internal/webhook/signing"
)

// FuzzVerify feeds arbitrary header values (signature, timestamp, delivery id) and bodies
// to every scheme. With a valid configuration, Verify must never panic, every failure
// must wrap ErrSignature without echoing the secret, and a success must come with a
// usable delivery id. The seeds, valid signatures among them, run as part of go test.
func FuzzVerify(f *testing.F) {
	const stdSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	const rawSecret = "fuzz-secret-value"
	ts := strconv.FormatInt(start.Unix(), 10)

	std := http.Header{}
	if err := signing.Sign(std, "msg_1", start, []byte(stripeEvent), stdSecret); err != nil {
		f.Fatal(err)
	}
	stripeSig := stripeHeader(stripeEvent, rawSecret, start, "")
	for _, s := range []struct {
		sig, ts, id, body string
	}{
		{std.Get("webhook-signature"), ts, "msg_1", stripeEvent},
		{stripeSig, ts, "d1", stripeEvent},
		{githubSig(rawSecret, []byte(stripeEvent)), ts, "d1", stripeEvent},
		{"", "", "", ""},
		{"v1,", "-1", "\x00", "{"},
		{"t=,v1=", "99999999999999999999", "a", "{}"},
		{"t=1,t=2", "0", "", "null"},
		{"sha256=", "1", "", `{"id":null}`},
		{"sha512=" + strings.Repeat("0", 128), ts, "x", "[]"},
		{strings.Repeat("v1,AAAA ", 100), ts, "msg", "x"},
		{"=,=,=", "+1", "é", `{"id":"evt"}`},
	} {
		f.Add(s.sig, s.ts, s.id, []byte(s.body))
	}
	verifiers := []inbound.Verifier{
		{Scheme: inbound.StandardWebhooks, Secrets: []string{stdSecret}},
		{Scheme: inbound.GitHub, Secrets: []string{rawSecret}},
		{Scheme: inbound.Stripe, Secrets: []string{rawSecret}},
		{Scheme: inbound.HMAC, Secrets: []string{rawSecret}, Header: "X-Sig", IDHeader: "X-Id"},
		{Scheme: inbound.HMAC, Secrets: []string{rawSecret}, Header: "X-Sig", Algorithm: "sha512"},
	}
	c := clock.NewFake(start)
	f.Fuzz(func(t *testing.T, sig, timestamp, id string, body []byte) {
		h := http.Header{}
		// Raw map writes: a real server can hand over any bytes a client sent.
		h["Webhook-Signature"] = []string{sig}
		h["Webhook-Timestamp"] = []string{timestamp}
		h["Webhook-Id"] = []string{id}
		h["X-Hub-Signature-256"] = []string{sig}
		h["X-Github-Delivery"] = []string{id}
		h["Stripe-Signature"] = []string{sig}
		h["X-Sig"] = []string{sig, timestamp}
		h["X-Id"] = []string{id}
		for _, v := range verifiers {
			v.Clock = c
			got, err := v.Verify(h, body)
			if err != nil {
				if !errors.Is(err, inbound.ErrSignature) {
					t.Fatalf("%s: error %v does not wrap ErrSignature", v.Scheme, err)
				}
				if strings.Contains(err.Error(), rawSecret) || strings.Contains(err.Error(), stdSecret[6:]) {
					t.Fatalf("%s: error contains the secret: %v", v.Scheme, err)
				}
				continue
			}
			if got == "" || len(got) > 255 {
				t.Fatalf("%s: accepted with delivery id %q", v.Scheme, got)
			}
		}
	})
}
