package fakeapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/junctionhq/junction/internal/clock"
)

// VerifiedPayment fakes the three services of seed 001's verified-payment workflow on
// one server:
//
//   - a Web5 identity service: POST /identities/verify {did, verification_method} →
//     {verified, confidence}; POST /identities/revoke {did}; POST /records {did,
//     transaction_data} → {record_id}. DIDs it does not know answer 404.
//   - an ML fraud model: POST /models/fraud:predict {sender_did, amount, …} →
//     {risk_score, risk_factors}. Risk is high (0.92) for a DID in HighRisk, low (0.12)
//     otherwise.
//   - a Bitcoin node's payment API: POST /payments {from_address, to_address, amount,
//     metadata} → {txid, status: "success"}, 402 {"error": "insufficient funds"} above
//     Balance. It honours Idempotency-Key as a careful payment API does: a key seen before
//     replays the first answer instead of paying again.
//
// Every service logs the idempotency key of each request that did its work, so a test
// can show that no completed step ran twice.
type VerifiedPayment struct {
	*Server
	cfg VerifiedPaymentConfig

	mu        sync.Mutex
	paid      map[string]map[string]any // payment answers by idempotency key
	completed map[string]int            // "service key" → how often it did the work
	revoked   []string
	records   []map[string]any
	nextTx    int
}

// VerifiedPaymentConfig sets the fake's knowledge.
type VerifiedPaymentConfig struct {
	KnownDIDs []string // identities the identity service can verify
	HighRisk  []string // DIDs the fraud model scores high
	Balance   float64  // the node's spendable balance, in BTC
	Clock     clock.Clock
}

// NewVerifiedPayment starts the fake; it stops when the test ends.
func NewVerifiedPayment(t testing.TB, cfg VerifiedPaymentConfig) *VerifiedPayment {
	t.Helper()
	v := &VerifiedPayment{cfg: cfg, paid: map[string]map[string]any{}, completed: map[string]int{}}
	v.Server = start(t, cfg.Clock, func(w http.ResponseWriter, _ *http.Request, status int) {
		writeJSON(w, status, map[string]any{"error": "injected failure"})
	}, http.HandlerFunc(v.serve))
	return v
}

func (v *VerifiedPayment) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"error": "POST only"})
		return
	}
	var body map[string]any
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes)).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "malformed JSON: " + err.Error()})
		return
	}
	key := r.Header.Get("Idempotency-Key")
	did, _ := body["did"].(string)
	switch r.URL.Path {
	case "/identities/verify":
		if !v.known(did) {
			writeJSON(w, http.StatusNotFound, map[string]any{"error": "unknown DID " + did})
			return
		}
		v.done("verify", key)
		writeJSON(w, http.StatusOK, map[string]any{"verified": true, "confidence": 0.93, "did": did})
	case "/identities/revoke":
		v.mu.Lock()
		v.revoked = append(v.revoked, did)
		v.mu.Unlock()
		v.done("revoke", key)
		writeJSON(w, http.StatusOK, map[string]any{"revoked": true})
	case "/models/fraud:predict":
		sender, _ := body["sender_did"].(string)
		score, factors := 0.12, []string{}
		for _, d := range v.cfg.HighRisk {
			if d == sender {
				score, factors = 0.92, []string{"new_recipient", "velocity"}
			}
		}
		v.done("fraud", key)
		writeJSON(w, http.StatusOK, map[string]any{"risk_score": score, "risk_factors": factors})
	case "/payments":
		v.pay(w, body, key)
	case "/records":
		v.mu.Lock()
		v.records = append(v.records, body)
		id := fmt.Sprintf("rec-%d", len(v.records))
		v.mu.Unlock()
		v.done("record", key)
		writeJSON(w, http.StatusCreated, map[string]any{"record_id": id})
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "no route " + r.URL.Path})
	}
}

func (v *VerifiedPayment) pay(w http.ResponseWriter, body map[string]any, key string) {
	amount, _ := body["amount"].(float64)
	if to, _ := body["to_address"].(string); to == "" || amount <= 0 {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": "to_address and a positive amount are required"})
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if key != "" {
		if prev, ok := v.paid[key]; ok { // a retry: the first answer, no second payment
			writeJSON(w, http.StatusOK, prev)
			return
		}
	}
	if amount > v.cfg.Balance {
		writeJSON(w, http.StatusPaymentRequired, map[string]any{"error": "insufficient funds", "balance": v.cfg.Balance})
		return
	}
	v.cfg.Balance -= amount
	v.nextTx++
	answer := map[string]any{"txid": fmt.Sprintf("tx%04d", v.nextTx), "status": "success"}
	if key != "" {
		v.paid[key] = answer
	}
	v.completed["payment "+key]++
	writeJSON(w, http.StatusOK, answer)
}

func (v *VerifiedPayment) known(did string) bool {
	for _, d := range v.cfg.KnownDIDs {
		if d == did {
			return true
		}
	}
	return false
}

func (v *VerifiedPayment) done(service, key string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.completed[service+" "+key]++
}

// Completions returns how often each service did its work per idempotency key, as
// "service key" → count (payments replayed for a known key are not counted).
func (v *VerifiedPayment) Completions() map[string]int {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make(map[string]int, len(v.completed))
	for k, n := range v.completed {
		out[k] = n
	}
	return out
}

// Payments returns how many payments were made.
func (v *VerifiedPayment) Payments() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.nextTx
}

// Revoked returns the DIDs whose verification was revoked, in order.
func (v *VerifiedPayment) Revoked() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.revoked...)
}

// Records returns the transaction records stored.
func (v *VerifiedPayment) Records() []map[string]any {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]map[string]any(nil), v.records...)
}
