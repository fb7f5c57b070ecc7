package fakeapi

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/junctionhq/junction/internal/clock"
)

// LightningConfig configures the Lightning node fake.
type LightningConfig struct {
	// Macaroon is the node's admin macaroon as its file holds it (binary); requests
	// carry it hex-encoded in Grpc-Metadata-macaroon. Required.
	Macaroon []byte
	Alias    string      // default "junction-test"
	Clock    clock.Clock // invoice creation dates; default the wall clock
}

// LightningInvoice is an invoice of the fake node.
type LightningInvoice struct {
	Hash           []byte // the payment hash, r_hash: the SHA-256 of Preimage
	Preimage       []byte // revealed by paying
	Memo           string
	Value          int64 // satoshis
	PaymentRequest string
	Settled        bool
}

// Lightning is a fake of LND's REST API (a Lightning Network node, regtest), served
// over HTTPS with a self-signed certificate of its own, as LND does (CACert gives it,
// for `tls { ca }`):
//
//   - GET /v1/getinfo, /v1/balance/channels, /v1/balance/blockchain
//   - POST /v1/invoices {value, memo, expiry}: a new invoice {r_hash (base64),
//     payment_request, add_index, payment_addr}; GET /v1/invoice/{r_hash hex}
//   - POST /v1/channels/transactions {payment_request} (SendPaymentSync): an invoice
//     made with PayableInvoice is paid ({payment_preimage, payment_hash, payment_route});
//     another well-formed one fails the LND way, HTTP 200 with payment_error "unable to
//     find a path to destination"; a malformed one is 500 "invalid bech32 string"
//
// 64-bit integers are JSON strings ("value": "1000"), as LND's gateway writes them; it
// reads both strings and numbers. Every request needs the macaroon hex-encoded in
// Grpc-Metadata-macaroon; errors are gRPC's through LND's gateway, {"code", "message",
// "details": []}: no macaroon is 500 "expected 1 macaroon, got 0", a wrong one 500
// "verification failed: signature mismatch after caveat verification", an unknown
// invoice 404 (code 5), a bad argument 400 (code 3).
type Lightning struct {
	*Server
	cfg LightningConfig

	mu       sync.Mutex
	invoices []LightningInvoice
	payable  map[string]LightningInvoice // payment requests another node issued, by request
}

// NewLightning starts the fake; it is closed when the test ends. The client's base URL
// is URL() (https://).
func NewLightning(t testing.TB, cfg LightningConfig) *Lightning {
	t.Helper()
	if len(cfg.Macaroon) == 0 {
		t.Fatal("fakeapi.NewLightning: Macaroon is required")
	}
	if cfg.Alias == "" {
		cfg.Alias = "junction-test"
	}
	l := &Lightning{cfg: cfg, payable: map[string]LightningInvoice{}}
	l.Server = startTLS(t, cfg.Clock, func(w http.ResponseWriter, _ *http.Request, status int) {
		writeJSON(w, status, lndError(14, "connection error: desc = \"transport: error while dialing\"")) // Unavailable
	}, http.HandlerFunc(l.serve))
	return l
}

func lndError(code int, msg string) map[string]any {
	return map[string]any{"code": code, "message": msg, "details": []any{}}
}

// Invoices returns the node's invoices, oldest first.
func (l *Lightning) Invoices() []LightningInvoice {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]LightningInvoice, len(l.invoices))
	copy(out, l.invoices)
	return out
}

// PayableInvoice makes an invoice of another node that this node can pay, and returns
// its payment request.
func (l *Lightning) PayableInvoice(sats int64, memo string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	inv := l.newInvoiceLocked(sats, memo, "lnbcrt"+strconv.FormatInt(sats*10, 10)+"n1pother")
	l.payable[inv.PaymentRequest] = inv
	return inv.PaymentRequest
}

func (l *Lightning) newInvoiceLocked(sats int64, memo, prefix string) LightningInvoice {
	n := len(l.invoices) + len(l.payable) + 1
	preimage := sha256.Sum256(fmt.Appendf(nil, "preimage-%d", n))
	hash := sha256.Sum256(preimage[:])
	return LightningInvoice{Hash: hash[:], Preimage: preimage[:], Memo: memo, Value: sats,
		PaymentRequest: prefix + strings.ToLower(fakeID("", n, 40))}
}

func (l *Lightning) serve(w http.ResponseWriter, r *http.Request) {
	if msg := l.authenticate(r); msg != "" {
		writeJSON(w, http.StatusInternalServerError, lndError(2, msg))
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v1/getinfo":
		l.mu.Lock()
		height := 840000 + len(l.invoices)
		l.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"version": "0.18.3-beta commit=v0.18.3-beta", "identity_pubkey": "02" + strings.Repeat("ab", 32),
			"alias": l.cfg.Alias, "color": "#3399ff", "num_pending_channels": 0, "num_active_channels": 2, "num_inactive_channels": 0,
			"num_peers": 3, "block_height": height, "block_hash": strings.Repeat("0", 64), "synced_to_chain": true, "synced_to_graph": true,
			"chains": []any{map[string]any{"chain": "bitcoin", "network": "regtest"}}, "uris": []any{}})
	case r.Method == http.MethodGet && r.URL.Path == "/v1/balance/channels":
		writeJSON(w, http.StatusOK, map[string]any{"balance": "150000", "pending_open_balance": "0",
			"local_balance": map[string]any{"sat": "150000", "msat": "150000000"}, "remote_balance": map[string]any{"sat": "50000", "msat": "50000000"}})
	case r.Method == http.MethodGet && r.URL.Path == "/v1/balance/blockchain":
		writeJSON(w, http.StatusOK, map[string]any{"total_balance": "1000000", "confirmed_balance": "1000000", "unconfirmed_balance": "0", "locked_balance": "0"})
	case r.Method == http.MethodPost && r.URL.Path == "/v1/invoices":
		l.addInvoice(w, r)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/invoice/"):
		l.lookupInvoice(w, strings.TrimPrefix(r.URL.Path, "/v1/invoice/"))
	case r.Method == http.MethodPost && r.URL.Path == "/v1/channels/transactions":
		l.sendPayment(w, r)
	default:
		writeJSON(w, http.StatusNotFound, lndError(5, "Not Found"))
	}
}

// authenticate checks the macaroon header; it returns LND's message, or "".
func (l *Lightning) authenticate(r *http.Request) string {
	h := r.Header.Values("Grpc-Metadata-macaroon")
	if len(h) != 1 {
		return fmt.Sprintf("expected 1 macaroon, got %d", len(h))
	}
	mac, err := hex.DecodeString(h[0])
	if err != nil {
		return "cannot get macaroon: " + err.Error()
	}
	if subtle.ConstantTimeCompare(mac, l.cfg.Macaroon) != 1 {
		return "verification failed: signature mismatch after caveat verification"
	}
	return ""
}

// lndBody reads a JSON body; LND's gateway takes 64-bit integers as strings or numbers.
func lndBody(r *http.Request) (map[string]any, bool) {
	dec := json.NewDecoder(bytes.NewReader(readBody(r)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, false
	}
	return m, true
}

func lndInt(v any) (int64, bool) {
	switch x := v.(type) {
	case nil:
		return 0, true
	case json.Number:
		n, err := x.Int64()
		return n, err == nil
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		return n, err == nil
	}
	return 0, false
}

func (l *Lightning) addInvoice(w http.ResponseWriter, r *http.Request) {
	m, ok := lndBody(r)
	if !ok {
		writeJSON(w, http.StatusBadRequest, lndError(3, "unexpected end of JSON input"))
		return
	}
	value, okValue := lndInt(m["value"])
	memo, _ := m["memo"].(string)
	switch {
	case !okValue:
		writeJSON(w, http.StatusBadRequest, lndError(3, fmt.Sprintf("proto: (line 1:10): invalid value for int64 type: %v", m["value"])))
		return
	case value < 0:
		writeJSON(w, http.StatusInternalServerError, lndError(2, "payment of negative value is not allowed"))
		return
	case len(memo) > 1024:
		writeJSON(w, http.StatusInternalServerError, lndError(2, "memo too large: 1025 bytes (maxsize=1024)"))
		return
	}
	l.mu.Lock()
	inv := l.newInvoiceLocked(value, memo, "lnbcrt"+strconv.FormatInt(value*10, 10)+"n1p")
	l.invoices = append(l.invoices, inv)
	index := len(l.invoices)
	l.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"r_hash": base64.StdEncoding.EncodeToString(inv.Hash), "payment_request": inv.PaymentRequest,
		"add_index": strconv.Itoa(index), "payment_addr": base64.StdEncoding.EncodeToString(inv.Hash[:16])})
}

func (l *Lightning) lookupInvoice(w http.ResponseWriter, hashHex string) {
	hash, err := hex.DecodeString(hashHex)
	if err != nil || len(hash) != 32 {
		writeJSON(w, http.StatusBadRequest, lndError(3, "invalid hash length of "+strconv.Itoa(len(hash))+", expected 32"))
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, inv := range l.invoices {
		if bytes.Equal(inv.Hash, hash) {
			state := "OPEN"
			if inv.Settled {
				state = "SETTLED"
			}
			writeJSON(w, http.StatusOK, map[string]any{"memo": inv.Memo, "r_hash": base64.StdEncoding.EncodeToString(inv.Hash),
				"value": strconv.FormatInt(inv.Value, 10), "settled": inv.Settled, "state": state, "payment_request": inv.PaymentRequest,
				"creation_date": strconv.FormatInt(l.clock.Now().Unix(), 10), "expiry": "86400"})
			return
		}
	}
	writeJSON(w, http.StatusNotFound, lndError(5, "unable to locate invoice"))
}

func (l *Lightning) sendPayment(w http.ResponseWriter, r *http.Request) {
	m, ok := lndBody(r)
	req, _ := m["payment_request"].(string)
	if !ok || !strings.HasPrefix(req, "lnbcrt") || len(req) < 20 {
		writeJSON(w, http.StatusInternalServerError, lndError(2, fmt.Sprintf("invalid bech32 string length %d", len(req))))
		return
	}
	l.mu.Lock()
	inv, found := l.payable[req]
	if found {
		inv.Settled = true
		l.payable[req] = inv
	}
	l.mu.Unlock()
	if !found {
		writeJSON(w, http.StatusOK, map[string]any{"payment_error": "unable to find a path to destination", "payment_preimage": "", "payment_hash": "", "payment_route": nil})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"payment_error": "", "payment_preimage": base64.StdEncoding.EncodeToString(inv.Preimage),
		"payment_hash":  base64.StdEncoding.EncodeToString(inv.Hash),
		"payment_route": map[string]any{"total_time_lock": 840040, "total_fees": "1", "total_amt": strconv.FormatInt(inv.Value+1, 10), "hops": []any{}}})
}
