package fakeapi_test

import (
	"testing"

	"github.com/junctionhq/junction/internal/fakeapi"
)

const stripeKey = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"

func stripePost(t *testing.T, s *fakeapi.Stripe, path, body string, header ...string) reply {
	t.Helper()
	h := append([]string{"Authorization", "Bearer " + stripeKey, "Content-Type", "application/json", "Stripe-Version", "2023-10-16"}, header...)
	return send(t, "POST", s.URL()+"/v1"+path, body, h...)
}

func TestStripeAuthAndValidation(t *testing.T) {
	s := fakeapi.NewStripe(t, fakeapi.StripeConfig{SecretKey: stripeKey})
	expect(t, "no key", send(t, "POST", s.URL()+"/v1/customers", `{}`), 401, "You did not provide an API key")
	expect(t, "wrong key", send(t, "POST", s.URL()+"/v1/customers", `{}`, "Authorization", "Bearer sk_test_wrongwrongwrong"), 401,
		`"code":"api_key_invalid"`, "Invalid API Key provided: sk_test_****rong")
	expect(t, "bad version", stripePost(t, s, "/customers", `{}`, "Stripe-Version", "latest"), 400, "Invalid Stripe API version")
	expect(t, "unknown URL", stripePost(t, s, "/charges/x/y", `{}`), 404, "Unrecognized request URL (POST: /v1/charges/x/y)")

	r := stripePost(t, s, "/customers", `{"email":"jenny@example.com","name":"Jenny Rosen","metadata":{"plan":"pro"}}`)
	expect(t, "customer", r, 200, `"object":"customer"`, `"email":"jenny@example.com"`, `"plan":"pro"`)
	if r.header.Get("Request-Id") == "" || r.header.Get("Stripe-Version") != "2023-10-16" {
		t.Errorf("headers: %v", r.header)
	}
	cus := r.json(t)["id"].(string)
	expect(t, "unknown parameter", stripePost(t, s, "/customers", `{"email":"a@b.co","nickname":"x"}`), 400,
		`"type":"invalid_request_error"`, `"param":"nickname"`, "Received unknown parameter: nickname")
	expect(t, "bad email", stripePost(t, s, "/customers", `{"email":"nope"}`), 400, `"param":"email"`)

	expect(t, "missing amount", stripePost(t, s, "/payment_intents", `{"currency":"usd"}`), 400,
		`"code":"parameter_missing"`, `"param":"amount"`, "Missing required param: amount.")
	expect(t, "form-encoded too", send(t, "POST", s.URL()+"/v1/payment_intents", "currency=usd", "Authorization", "Bearer "+stripeKey,
		"Content-Type", "application/x-www-form-urlencoded"), 400, `"param":"amount"`)
	expect(t, "too small", stripePost(t, s, "/payment_intents", `{"amount":10,"currency":"usd"}`), 400, `"code":"amount_too_small"`, "$0.50")
	expect(t, "unknown customer", stripePost(t, s, "/payment_intents", `{"amount":2000,"currency":"usd","customer":"cus_nope"}`), 400,
		`"code":"resource_missing"`, `"param":"customer"`)
	expect(t, "bad method type", stripePost(t, s, "/payment_intents", `{"amount":2000,"currency":"usd","payment_method_types":["cash"]}`), 400,
		`"param":"payment_method_types"`)

	r = stripePost(t, s, "/payment_intents", `{"amount":2000,"currency":"usd","customer":"`+cus+`","payment_method_types":["card"]}`)
	expect(t, "payment intent", r, 200, `"status":"requires_payment_method"`, `"client_secret":"pi_`)
	pi := r.json(t)["id"].(string)
	expect(t, "confirm without a method", stripePost(t, s, "/payment_intents/"+pi+"/confirm", `{}`), 400, `"param":"payment_method"`)
	expect(t, "declined", stripePost(t, s, "/payment_intents/"+pi+"/confirm", `{"payment_method":"pm_card_chargeDeclined"}`), 402,
		`"type":"card_error"`, `"code":"card_declined"`, `"decline_code":"generic_decline"`)
	expect(t, "confirm", stripePost(t, s, "/payment_intents/"+pi+"/confirm", `{"payment_method":"pm_card_visa"}`), 200,
		`"status":"succeeded"`, `"amount_received":2000`)
	expect(t, "confirm twice", stripePost(t, s, "/payment_intents/"+pi+"/confirm", `{"payment_method":"pm_card_visa"}`), 400,
		`"code":"payment_intent_unexpected_state"`)
	expect(t, "unknown intent", stripePost(t, s, "/payment_intents/pi_nope/confirm", `{}`), 404, `"code":"resource_missing"`)

	expect(t, "partial refund", stripePost(t, s, "/refunds", `{"payment_intent":"`+pi+`","amount":500,"reason":"requested_by_customer"}`), 200,
		`"object":"refund"`, `"amount":500`, `"status":"succeeded"`)
	expect(t, "too large", stripePost(t, s, "/refunds", `{"payment_intent":"`+pi+`","amount":5000}`), 400,
		`"code":"amount_too_large"`, "Refund amount ($50.00) is greater than unrefunded amount on charge ($15.00)")
	expect(t, "the rest", stripePost(t, s, "/refunds", `{"payment_intent":"`+pi+`"}`), 200, `"amount":1500`)
	expect(t, "nothing left", stripePost(t, s, "/refunds", `{"payment_intent":"`+pi+`"}`), 400, `"code":"charge_already_refunded"`)
	if refunds := s.Refunds(); len(refunds) != 2 {
		t.Errorf("refunds: %v", refunds)
	}
	expect(t, "retrieve", send(t, "GET", s.URL()+"/v1/payment_intents/"+pi, "", "Authorization", "Bearer "+stripeKey), 200, `"amount_refunded":2000`)
}

func TestStripeIdempotency(t *testing.T) {
	s := fakeapi.NewStripe(t, fakeapi.StripeConfig{SecretKey: stripeKey})
	body := `{"email":"jenny@example.com"}`
	first := stripePost(t, s, "/customers", body, "Idempotency-Key", "k1")
	again := stripePost(t, s, "/customers", body, "Idempotency-Key", "k1")
	if first.status != 200 || string(first.body) != string(again.body) || again.header.Get("Idempotent-Replayed") != "true" ||
		again.header.Get("Original-Request") != first.header.Get("Request-Id") {
		t.Fatalf("replay: %d %s / %s %v", first.status, first.body, again.body, again.header)
	}
	if n := len(s.Customers()); n != 1 {
		t.Errorf("a replay creates nothing: %d customers", n)
	}
	expect(t, "other parameters", stripePost(t, s, "/customers", `{"email":"other@example.com"}`, "Idempotency-Key", "k1"), 400,
		`"type":"idempotency_error"`, "same parameters")
	expect(t, "other endpoint", stripePost(t, s, "/payment_intents", `{"amount":100,"currency":"usd"}`, "Idempotency-Key", "k1"), 400,
		`"type":"idempotency_error"`, "same endpoint")

	// A validation error is not remembered: the corrected request with the same key runs.
	expect(t, "invalid", stripePost(t, s, "/payment_intents", `{"currency":"usd"}`, "Idempotency-Key", "k2"), 400, `"param":"amount"`)
	expect(t, "corrected", stripePost(t, s, "/payment_intents", `{"currency":"usd","amount":100}`, "Idempotency-Key", "k2"), 200)

	// An injected front-end failure is not remembered either.
	s.FailNext(1, 500)
	expect(t, "injected 500", stripePost(t, s, "/customers", `{"email":"a@example.com"}`, "Idempotency-Key", "k3"), 500, `"type":"api_error"`)
	r := stripePost(t, s, "/customers", `{"email":"a@example.com"}`, "Idempotency-Key", "k3")
	if r.status != 200 || r.header.Get("Idempotent-Replayed") != "" {
		t.Errorf("after an injected failure the key is fresh: %d %v", r.status, r.header)
	}

	// A lost answer is: the retry is replayed, and the object exists once.
	s.LoseNextResponses(1, 503)
	expect(t, "lost answer", stripePost(t, s, "/customers", `{"email":"b@example.com"}`, "Idempotency-Key", "k4"), 503)
	r = stripePost(t, s, "/customers", `{"email":"b@example.com"}`, "Idempotency-Key", "k4")
	if r.status != 200 || r.header.Get("Idempotent-Replayed") != "true" || len(s.Customers()) != 3 {
		t.Errorf("retry after a lost answer: %d %v, %d customers", r.status, r.header, len(s.Customers()))
	}
}
