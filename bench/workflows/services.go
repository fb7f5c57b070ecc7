package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
)

// services are the zero-latency fake HTTP services the workflow calls, on loopback.
// Each answers a small JSON object at once, derived from its input, so a wrong or
// missing field from the previous step shows in the run's result. They count requests
// and the Idempotency-Key header of each, so the bench can tell a step that ran twice
// (a key seen again) or not at all (fewer requests than 3 per run).
type services struct {
	srv *httptest.Server

	mu       sync.Mutex
	requests int
	noKey    int            // requests without an Idempotency-Key
	keys     map[string]int // Idempotency-Key → requests carrying it
}

// endpoints answer a request body, or false when a field they need is missing.
var endpoints = map[string]func(in map[string]any) (map[string]any, bool){
	"/identity": func(in map[string]any) (map[string]any, bool) {
		order, ok := in["order_id"].(string)
		return map[string]any{"customer_id": "cust-" + order, "verified": true}, ok && order != ""
	},
	"/fraud": func(in map[string]any) (map[string]any, bool) {
		customer, ok := in["customer_id"].(string)
		_, hasAmount := in["amount"].(float64)
		return map[string]any{"check_id": "chk-" + customer, "score": 7}, ok && customer != "" && hasAmount
	},
	"/payment": func(in map[string]any) (map[string]any, bool) {
		check, ok := in["check_id"].(string)
		_, hasAmount := in["amount"].(float64)
		return map[string]any{"payment_id": "pay-" + check, "status": "captured"}, ok && check != "" && hasAmount
	},
}

func startServices() *services {
	s := &services{keys: map[string]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

func (s *services) URL() string { return s.srv.URL }

func (s *services) Close() { s.srv.Close() }

func (s *services) serve(w http.ResponseWriter, r *http.Request) {
	answer, known := endpoints[r.URL.Path]
	if !known || r.Method != http.MethodPost {
		http.Error(w, "POST /identity, /fraud or /payment", http.StatusNotFound)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	s.mu.Lock()
	s.requests++
	if key == "" {
		s.noKey++
	} else {
		s.keys[key]++
	}
	s.mu.Unlock()

	var in map[string]any
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
		return
	}
	out, ok := answer(in)
	if !ok {
		http.Error(w, "missing or empty input field", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// serviceCounts is what the services saw since the last reset.
type serviceCounts struct {
	requests int
	noKey    int
	keys     int // distinct Idempotency-Keys
	repeated int // keys that came more than once
}

// take returns the counts and starts counting afresh.
func (s *services) take() serviceCounts {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := serviceCounts{requests: s.requests, noKey: s.noKey, keys: len(s.keys)}
	for _, n := range s.keys {
		if n > 1 {
			c.repeated++
		}
	}
	s.requests, s.noKey, s.keys = 0, 0, map[string]int{}
	return c
}
