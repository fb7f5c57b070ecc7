package fakeapi

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/clock"
)

// StripeConfig configures the Stripe fake.
type StripeConfig struct {
	SecretKey string      // the one valid key, e.g. "sk_test_…"; required
	Clock     clock.Clock // created timestamps and idempotency-key expiry; default the wall clock
	// FormOnly makes the fake read bodies as the real API does: form-encoded only; a
	// JSON body is not read (its parameters are missing, so a required one is a 400).
	FormOnly bool
}

// Stripe is a fake of the Stripe API (https://api.stripe.com/v1; the fake serves the same
// paths under its own /v1):
//
//   - POST /v1/customers (email, name, description, phone, metadata)
//   - POST /v1/payment_intents (amount and currency required; customer must exist;
//     payment_method_types, payment_method, metadata, description, receipt_email)
//   - POST /v1/payment_intents/{id}/confirm (payment_method, return_url); Stripe's test
//     payment methods: pm_card_visa, pm_card_mastercard and pm_card_amex succeed,
//     pm_card_chargeDeclined and pm_card_chargeDeclinedInsufficientFunds are declined
//     (402 card_error), pm_card_authenticationRequired needs action
//   - POST /v1/refunds (payment_intent, amount up to what is left, reason, metadata)
//   - GET /v1/customers/{id}, /v1/payment_intents/{id}, /v1/refunds/{id}
//
// Like Stripe it wants `Authorization: Bearer sk_…` (or the key as Basic user name),
// refuses unknown parameters ("Received unknown parameter: x"), answers errors as
// {"error":{"type","code","message","param"}}, echoes Stripe-Version (and refuses a
// malformed one) and sets Request-Id on every answer.
//
// Idempotency is Stripe's: a POST's Idempotency-Key is remembered for 24 hours with the
// answer of a request that began executing (a parameter validation error is not saved);
// the same key with the same parameters replays that answer with Idempotent-Replayed:
// true and Original-Request, with other parameters or on another endpoint it is 400
// idempotency_error, and while the first request still runs 409.
//
// One difference unless FormOnly is set: the real API takes form-encoded bodies only
// and ignores a JSON body. The reference configuration's block declares JSON bodies, so
// by default the fake reads JSON bodies as well as form-encoded ones; the catalog's
// Stripe entry sends forms and is tested with FormOnly.
//
// Failure knobs besides the Server's: LoseNextResponses processes requests but answers
// them with an error, as when the answer is lost on the way back — the case idempotency
// keys exist for.
type Stripe struct {
	*Server
	cfg StripeConfig

	mu        sync.Mutex
	seq       int
	customers map[string]map[string]any
	intents   map[string]map[string]any
	refunds   map[string]map[string]any
	order     []string // ids in creation order
	idem      map[string]*stripeIdem
	inFlight  map[string]bool
	lose      []int
}

type stripeIdem struct {
	endpoint  string // "POST /v1/customers"
	params    string // canonical JSON of the parameters
	status    int
	body      []byte
	requestID string
	at        time.Time
}

// stripeIdemTTL is how long Stripe keeps an idempotency key.
const stripeIdemTTL = 24 * time.Hour

var stripeVersionPattern = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$`)

// NewStripe starts the fake; it is closed when the test ends. Give the client
// URL()+"/v1" as the base URL.
func NewStripe(t testing.TB, cfg StripeConfig) *Stripe {
	t.Helper()
	if cfg.SecretKey == "" {
		t.Fatal("fakeapi.NewStripe: SecretKey is required")
	}
	s := &Stripe{cfg: cfg, customers: map[string]map[string]any{}, intents: map[string]map[string]any{},
		refunds: map[string]map[string]any{}, idem: map[string]*stripeIdem{}, inFlight: map[string]bool{}}
	s.Server = start(t, cfg.Clock, func(w http.ResponseWriter, _ *http.Request, status int) {
		w.Header().Set("Request-Id", "req_injected")
		if status == http.StatusTooManyRequests { // RateLimitNext
			w.Header().Set("Stripe-Should-Retry", "true")
			writeJSON(w, status, stripeError("invalid_request_error", "rate_limit", "", "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits."))
			return
		}
		writeJSON(w, status, stripeError("api_error", "", "", "An unknown error occurred (injected)."))
	}, http.HandlerFunc(s.serve))
	return s
}

// LoseNextResponses makes the next n requests that reach processing be processed (and
// remembered under their idempotency key) but answered with status and an api_error, as
// when a timeout or a proxy loses Stripe's answer. A retry with the same key then gets
// the original answer replayed.
func (s *Stripe) LoseNextResponses(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.lose = append(s.lose, status)
	}
}

// Customer returns a customer by id.
func (s *Stripe) Customer(id string) (map[string]any, bool) { return s.object(s.customers, id) }

// PaymentIntent returns a payment intent by id.
func (s *Stripe) PaymentIntent(id string) (map[string]any, bool) { return s.object(s.intents, id) }

// Refunds returns every refund, oldest first.
func (s *Stripe) Refunds() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, id := range s.order {
		if r, ok := s.refunds[id]; ok {
			out = append(out, cloneJSON(r))
		}
	}
	return out
}

// Customers returns every customer, oldest first.
func (s *Stripe) Customers() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, id := range s.order {
		if c, ok := s.customers[id]; ok {
			out = append(out, cloneJSON(c))
		}
	}
	return out
}

func (s *Stripe) object(m map[string]map[string]any, id string) (map[string]any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := m[id]
	if !ok {
		return nil, false
	}
	return cloneJSON(o), true
}

// cloneJSON deep-copies a JSON-shaped object, so callers cannot race the fake.
func cloneJSON(o map[string]any) map[string]any {
	b, _ := json.Marshal(o)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

func stripeError(typ, code, param, msg string) map[string]any {
	e := map[string]any{"type": typ, "message": msg}
	if code != "" {
		e["code"] = code
		e["doc_url"] = "https://stripe.com/docs/error-codes/" + strings.ReplaceAll(code, "_", "-")
	}
	if param != "" {
		e["param"] = param
	}
	return map[string]any{"error": e}
}

// stripeAnswer is what an endpoint decided: status and body, and whether it began
// executing (only then is it remembered under an idempotency key).
type stripeAnswer struct {
	status   int
	body     any
	executed bool
}

func invalidRequest(code, param, msg string) stripeAnswer {
	status := http.StatusBadRequest
	if code == "resource_missing" && param == "" {
		status = http.StatusNotFound
	}
	return stripeAnswer{status: status, body: stripeError("invalid_request_error", code, param, msg)}
}

func (s *Stripe) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.seq++
	requestID := fakeID("req_", s.seq, 14)
	s.mu.Unlock()
	w.Header().Set("Request-Id", requestID)
	version := r.Header.Get("Stripe-Version")
	if version != "" && !stripeVersionPattern.MatchString(version) {
		writeJSON(w, http.StatusBadRequest, stripeError("invalid_request_error", "", "", fmt.Sprintf("Invalid Stripe API version: %s", version)))
		return
	}
	w.Header().Set("Stripe-Version", cmp.Or(version, "2023-10-16"))
	if a := s.authenticate(r); a != nil {
		writeJSON(w, a.status, a.body)
		return
	}
	params, perr := stripeParams(r, s.cfg.FormOnly)
	if perr != "" {
		writeJSON(w, http.StatusBadRequest, stripeError("invalid_request_error", "", "", perr))
		return
	}
	handler, found := s.route(r.Method, r.URL.Path)
	if !found {
		writeJSON(w, http.StatusNotFound, stripeError("invalid_request_error", "", "",
			fmt.Sprintf("Unrecognized request URL (%s: %s). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.", r.Method, r.URL.Path)))
		return
	}

	key := r.Header.Get("Idempotency-Key")
	if r.Method != http.MethodPost {
		key = "" // GET and DELETE are idempotent by definition; Stripe ignores the key
	}
	endpoint := r.Method + " " + r.URL.Path
	canonical, _ := json.Marshal(params)
	if key != "" {
		w.Header().Set("Idempotency-Key", key)
		if len(key) > 255 {
			writeJSON(w, http.StatusBadRequest, stripeError("invalid_request_error", "", "", "Idempotency keys can be at most 255 characters long."))
			return
		}
		s.mu.Lock()
		prev := s.idem[key]
		if prev != nil && s.clock.Now().Sub(prev.at) > stripeIdemTTL {
			delete(s.idem, key)
			prev = nil
		}
		switch {
		case s.inFlight[key]:
			s.mu.Unlock()
			writeJSON(w, http.StatusConflict, stripeError("idempotency_error", "", "",
				"There is currently another in-progress request using this Idempotent Key (probably because of a timeout). Please try again later."))
			return
		case prev != nil && prev.endpoint != endpoint:
			s.mu.Unlock()
			writeJSON(w, http.StatusBadRequest, stripeError("idempotency_error", "", "", fmt.Sprintf(
				"Keys for idempotent requests can only be used for the same endpoint they were first used for ('%s' vs '%s'). Try using a key other than '%s' if you meant to execute a different request.",
				prev.endpoint, endpoint, key)))
			return
		case prev != nil && prev.params != string(canonical):
			s.mu.Unlock()
			writeJSON(w, http.StatusBadRequest, stripeError("idempotency_error", "", "", fmt.Sprintf(
				"Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '%s' if you meant to execute a different request.", key)))
			return
		case prev != nil:
			s.mu.Unlock()
			w.Header().Set("Idempotent-Replayed", "true")
			w.Header().Set("Original-Request", prev.requestID)
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(prev.status)
			_, _ = w.Write(prev.body)
			return
		}
		s.inFlight[key] = true
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			delete(s.inFlight, key)
			s.mu.Unlock()
		}()
	}

	s.mu.Lock()
	a := handler(params)
	body, _ := json.Marshal(a.body)
	if key != "" && a.executed {
		s.idem[key] = &stripeIdem{endpoint: endpoint, params: string(canonical), status: a.status, body: body, requestID: requestID, at: s.clock.Now()}
	}
	lost := 0
	if len(s.lose) > 0 {
		lost, s.lose = s.lose[0], s.lose[1:]
	}
	s.mu.Unlock()
	if lost != 0 {
		writeJSON(w, lost, stripeError("api_error", "", "", "The request was processed but its answer was lost (injected)."))
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(a.status)
	_, _ = w.Write(body)
}

// authenticate returns the 401 answer, or nil when the key is right.
func (s *Stripe) authenticate(r *http.Request) *stripeAnswer {
	authz := r.Header.Get("Authorization")
	var key string
	scheme, rest, _ := strings.Cut(authz, " ")
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		key = rest
	case strings.EqualFold(scheme, "Basic"):
		raw, err := base64.StdEncoding.DecodeString(rest)
		if err == nil {
			key, _, _ = strings.Cut(string(raw), ":")
		}
	}
	if key == "" {
		return &stripeAnswer{status: http.StatusUnauthorized, body: stripeError("invalid_request_error", "", "",
			"You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.")}
	}
	if key != s.cfg.SecretKey {
		shown := key
		if len(shown) > 12 {
			shown = shown[:8] + strings.Repeat("*", 4) + shown[len(shown)-4:]
		}
		return &stripeAnswer{status: http.StatusUnauthorized, body: stripeError("invalid_request_error", "api_key_invalid", "",
			"Invalid API Key provided: "+shown)}
	}
	return nil
}

// stripeParams reads the parameters: the query of a GET, else a JSON object or a
// form-encoded body (with Stripe's bracket notation: metadata[k]=v, list[]=v).
func stripeParams(r *http.Request, formOnly bool) (map[string]any, string) {
	if r.Method == http.MethodGet {
		return formParams(r.URL.Query()), ""
	}
	body := readBody(r)
	if len(bytes.TrimSpace(body)) == 0 {
		return map[string]any{}, ""
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/json" && formOnly {
		return map[string]any{}, "" // Stripe does not read JSON: as if nothing were sent
	}
	if mt == "application/json" {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var params map[string]any
		if err := dec.Decode(&params); err != nil || params == nil {
			return nil, "Invalid request: the body must be a JSON object."
		}
		return params, ""
	}
	values, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, "Invalid request: the body could not be read as application/x-www-form-urlencoded."
	}
	return formParams(values), ""
}

func formParams(values url.Values) map[string]any {
	out := map[string]any{}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys) // list[0], list[1], … in order
	for _, k := range keys {
		v := values.Get(k)
		name, sub, nested := strings.Cut(k, "[")
		if !nested {
			out[k] = v
			continue
		}
		sub = strings.TrimSuffix(sub, "]")
		if _, err := strconv.Atoi(sub); err == nil || sub == "" {
			list, _ := out[name].([]any)
			for _, item := range values[k] {
				list = append(list, item)
			}
			out[name] = list
			continue
		}
		m, _ := out[name].(map[string]any)
		if m == nil {
			m = map[string]any{}
		}
		m[sub] = v
		out[name] = m
	}
	return out
}

type stripeHandler func(params map[string]any) stripeAnswer

func (s *Stripe) route(method, path string) (stripeHandler, bool) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) < 2 || parts[0] != "v1" {
		return nil, false
	}
	parts = parts[1:]
	switch {
	case method == http.MethodPost && len(parts) == 1 && parts[0] == "customers":
		return s.createCustomer, true
	case method == http.MethodPost && len(parts) == 1 && parts[0] == "payment_intents":
		return s.createPaymentIntent, true
	case method == http.MethodPost && len(parts) == 3 && parts[0] == "payment_intents" && parts[2] == "confirm":
		return func(p map[string]any) stripeAnswer { return s.confirm(parts[1], p) }, true
	case method == http.MethodPost && len(parts) == 1 && parts[0] == "refunds":
		return s.createRefund, true
	case method == http.MethodGet && len(parts) == 2:
		objects := map[string]map[string]map[string]any{"customers": s.customers, "payment_intents": s.intents, "refunds": s.refunds}
		m, ok := objects[parts[0]]
		if !ok {
			return nil, false
		}
		return func(map[string]any) stripeAnswer {
			o, ok := m[parts[1]]
			if !ok {
				return invalidRequest("resource_missing", "", fmt.Sprintf("No such %s: '%s'", strings.TrimSuffix(parts[0], "s"), parts[1]))
			}
			return stripeAnswer{status: http.StatusOK, body: o}
		}, true
	}
	return nil, false
}

// stripeForm checks the parameters of one request: unknown ones, then each getter.
type stripeForm struct {
	params map[string]any
	err    *stripeAnswer
}

func newStripeForm(params map[string]any, allowed ...string) *stripeForm {
	f := &stripeForm{params: params}
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !slices.Contains(allowed, k) {
			a := invalidRequest("parameter_unknown", k, "Received unknown parameter: "+k)
			f.err = &a
			break
		}
	}
	return f
}

func (f *stripeForm) fail(code, param, msg string) {
	if f.err == nil {
		a := invalidRequest(code, param, msg)
		f.err = &a
	}
}

func (f *stripeForm) str(name string, required bool) string {
	v, ok := f.params[name]
	if !ok || v == nil {
		if required {
			f.fail("parameter_missing", name, "Missing required param: "+name+".")
		}
		return ""
	}
	s, isString := v.(string)
	if !isString {
		f.fail("parameter_invalid_string", name, fmt.Sprintf("Invalid string: %v", v))
	}
	return s
}

func (f *stripeForm) integer(name string, required bool) (int64, bool) {
	v, ok := f.params[name]
	if !ok || v == nil {
		if required {
			f.fail("parameter_missing", name, "Missing required param: "+name+".")
		}
		return 0, false
	}
	var text string
	switch x := v.(type) {
	case json.Number:
		text = x.String()
	case string:
		text = x
	default:
		text = fmt.Sprint(x)
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		f.fail("parameter_invalid_integer", name, "Invalid integer: "+text)
		return 0, false
	}
	return n, true
}

func (f *stripeForm) metadata() map[string]any {
	v, ok := f.params["metadata"]
	if !ok || v == nil {
		return map[string]any{}
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		f.fail("parameter_invalid_empty", "metadata", "Invalid object")
		return nil
	}
	out := map[string]any{}
	for k, x := range m {
		switch val := x.(type) {
		case string:
			out[k] = val
		case json.Number, bool:
			out[k] = fmt.Sprint(val) // Stripe keeps metadata as strings
		default:
			f.fail("parameter_invalid_string", "metadata["+k+"]", "Metadata values must be strings.")
		}
	}
	return out
}

func (f *stripeForm) strings(name string) []string {
	v, ok := f.params[name]
	if !ok || v == nil {
		return nil
	}
	list, isList := v.([]any)
	if !isList {
		f.fail("parameter_invalid_array", name, "Invalid array")
		return nil
	}
	out := make([]string, 0, len(list))
	for _, item := range list {
		s, ok := item.(string)
		if !ok {
			f.fail("parameter_invalid_string", name, fmt.Sprintf("Invalid string: %v", item))
			return nil
		}
		out = append(out, s)
	}
	return out
}

func (s *Stripe) newID(prefix string) string {
	s.seq++
	id := fakeID(prefix, s.seq, 24)
	s.order = append(s.order, id)
	return id
}

var emailPattern = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)

func (s *Stripe) createCustomer(params map[string]any) stripeAnswer {
	f := newStripeForm(params, "email", "name", "description", "phone", "metadata")
	email := f.str("email", false)
	name, desc, phone := f.str("name", false), f.str("description", false), f.str("phone", false)
	meta := f.metadata()
	if email != "" && !emailPattern.MatchString(email) {
		f.fail("email_invalid", "email", "Invalid email address: "+email)
	}
	if f.err != nil {
		return *f.err
	}
	id := s.newID("cus_")
	c := map[string]any{"id": id, "object": "customer", "address": nil, "balance": 0, "created": s.clock.Now().Unix(),
		"currency": nil, "description": nullable(desc), "email": nullable(email), "livemode": false, "metadata": meta,
		"name": nullable(name), "phone": nullable(phone), "preferred_locales": []any{}, "invoice_prefix": strings.ToUpper(id[4:12])}
	s.customers[id] = c
	return stripeAnswer{status: http.StatusOK, body: c, executed: true}
}

var (
	stripeCurrencies  = []string{"usd", "eur", "gbp", "jpy", "cad", "aud", "chf", "sek"}
	stripeMethodTypes = []string{"card", "us_bank_account", "sepa_debit", "link", "ideal"}
	stripeDecimal     = map[string]bool{"jpy": false}
)

// money renders an amount as Stripe's messages do: $0.50, 0.50 eur, ¥50.
func money(amount int64, currency string) string {
	if dec, ok := stripeDecimal[currency]; ok && !dec {
		return fmt.Sprintf("%d %s", amount, currency)
	}
	s := fmt.Sprintf("%d.%02d", amount/100, amount%100)
	if currency == "usd" {
		return "$" + s
	}
	return s + " " + currency
}

func (s *Stripe) createPaymentIntent(params map[string]any) stripeAnswer {
	f := newStripeForm(params, "amount", "currency", "customer", "payment_method_types", "payment_method", "metadata", "description", "receipt_email")
	amount, _ := f.integer("amount", true)
	currency := strings.ToLower(f.str("currency", true))
	customer := f.str("customer", false)
	types := f.strings("payment_method_types")
	pm := f.str("payment_method", false)
	meta := f.metadata()
	desc, receipt := f.str("description", false), f.str("receipt_email", false)
	if f.err != nil {
		return *f.err
	}
	switch {
	case !slices.Contains(stripeCurrencies, currency):
		return invalidRequest("", "currency", "Invalid currency: "+currency+". Stripe currently supports these currencies: "+strings.Join(stripeCurrencies, ", "))
	case amount < 1:
		return invalidRequest("parameter_invalid_integer", "amount", "This value must be greater than or equal to 1.")
	case amount < 50 && currency != "jpy":
		return invalidRequest("amount_too_small", "amount", "Amount must be at least "+money(50, currency))
	}
	if customer != "" {
		if _, ok := s.customers[customer]; !ok {
			return invalidRequest("resource_missing", "customer", fmt.Sprintf("No such customer: '%s'", customer))
		}
	}
	if len(types) == 0 {
		types = []string{"card"}
	}
	for _, t := range types {
		if !slices.Contains(stripeMethodTypes, t) {
			return invalidRequest("payment_intent_invalid_parameter", "payment_method_types",
				fmt.Sprintf("The payment method type %q is invalid. Please ensure the provided type is activated in your dashboard.", t))
		}
	}
	if pm != "" && !knownPaymentMethod(pm) {
		return invalidRequest("resource_missing", "payment_method", fmt.Sprintf("No such PaymentMethod: '%s'", pm))
	}
	id := s.newID("pi_")
	status := "requires_payment_method"
	if pm != "" {
		status = "requires_confirmation"
	}
	typesJSON := make([]any, len(types))
	for i, t := range types {
		typesJSON[i] = t
	}
	pi := map[string]any{"id": id, "object": "payment_intent", "amount": amount, "amount_capturable": 0, "amount_received": 0,
		"currency": currency, "customer": nullable(customer), "client_secret": id + "_secret_" + fakeID("", s.seq, 25)[:25],
		"created": s.clock.Now().Unix(), "livemode": false, "metadata": meta, "payment_method": nullable(pm),
		"payment_method_types": typesJSON, "status": status, "latest_charge": nil, "last_payment_error": nil,
		"description": nullable(desc), "receipt_email": nullable(receipt), "confirmation_method": "automatic",
		"capture_method": "automatic_async", "next_action": nil, "amount_refunded": 0}
	s.intents[id] = pi
	return stripeAnswer{status: http.StatusOK, body: pi, executed: true}
}

func knownPaymentMethod(pm string) bool {
	return slices.Contains([]string{"pm_card_visa", "pm_card_mastercard", "pm_card_amex", "pm_card_chargeDeclined",
		"pm_card_chargeDeclinedInsufficientFunds", "pm_card_authenticationRequired"}, pm)
}

func (s *Stripe) confirm(id string, params map[string]any) stripeAnswer {
	f := newStripeForm(params, "payment_method", "return_url", "receipt_email")
	pm := f.str("payment_method", false)
	returnURL := f.str("return_url", false)
	_ = f.str("receipt_email", false)
	if f.err != nil {
		return *f.err
	}
	pi, ok := s.intents[id]
	if !ok {
		return invalidRequest("resource_missing", "", fmt.Sprintf("No such payment_intent: '%s'", id))
	}
	if st := pi["status"].(string); !slices.Contains([]string{"requires_payment_method", "requires_confirmation", "requires_action"}, st) {
		return invalidRequest("payment_intent_unexpected_state", "", fmt.Sprintf(
			"You cannot confirm this PaymentIntent because it has a status of %s. Only a PaymentIntent with one of the following statuses may be confirmed: requires_confirmation, requires_payment_method, requires_action.", st))
	}
	if pm == "" {
		pm, _ = pi["payment_method"].(string)
	}
	switch {
	case pm == "":
		return invalidRequest("parameter_missing", "payment_method", fmt.Sprintf(
			"You cannot confirm this PaymentIntent because it's missing a payment method. To confirm a PaymentIntent with %s, specify a payment method.", id))
	case !knownPaymentMethod(pm):
		return invalidRequest("resource_missing", "payment_method", fmt.Sprintf("No such PaymentMethod: '%s'", pm))
	}
	pi["payment_method"] = pm
	switch pm {
	case "pm_card_chargeDeclined", "pm_card_chargeDeclinedInsufficientFunds":
		decline, msg := "generic_decline", "Your card was declined."
		if pm == "pm_card_chargeDeclinedInsufficientFunds" {
			decline, msg = "insufficient_funds", "Your card has insufficient funds."
		}
		charge := fakeID("ch_", s.seq+1, 24)
		errBody := map[string]any{"type": "card_error", "code": "card_declined", "decline_code": decline, "message": msg,
			"charge": charge, "doc_url": "https://stripe.com/docs/error-codes/card-declined"}
		pi["status"], pi["payment_method"], pi["last_payment_error"] = "requires_payment_method", nil, errBody
		withIntent := map[string]any{}
		for k, v := range errBody {
			withIntent[k] = v
		}
		withIntent["payment_intent"] = cloneJSON(pi)
		return stripeAnswer{status: http.StatusPaymentRequired, body: map[string]any{"error": withIntent}, executed: true}
	case "pm_card_authenticationRequired":
		pi["status"] = "requires_action"
		pi["next_action"] = map[string]any{"type": "redirect_to_url", "redirect_to_url": map[string]any{
			"url": "https://hooks.stripe.com/3d_secure_2/hosted?payment_intent=" + id, "return_url": nullable(returnURL)}}
		return stripeAnswer{status: http.StatusOK, body: pi, executed: true}
	}
	pi["status"], pi["amount_received"], pi["latest_charge"], pi["next_action"] = "succeeded", pi["amount"], s.newID("ch_"), nil
	pi["last_payment_error"] = nil
	return stripeAnswer{status: http.StatusOK, body: pi, executed: true}
}

func (s *Stripe) createRefund(params map[string]any) stripeAnswer {
	f := newStripeForm(params, "payment_intent", "charge", "amount", "reason", "metadata")
	piID := f.str("payment_intent", false)
	chargeID := f.str("charge", false)
	amount, hasAmount := f.integer("amount", false)
	reason := f.str("reason", false)
	meta := f.metadata()
	if f.err != nil {
		return *f.err
	}
	var pi map[string]any
	switch {
	case piID != "":
		pi = s.intents[piID]
		if pi == nil {
			return invalidRequest("resource_missing", "payment_intent", fmt.Sprintf("No such payment_intent: '%s'", piID))
		}
	case chargeID != "":
		for _, x := range s.intents {
			if x["latest_charge"] == chargeID {
				pi = x
			}
		}
		if pi == nil {
			return invalidRequest("resource_missing", "charge", fmt.Sprintf("No such charge: '%s'", chargeID))
		}
	default:
		return invalidRequest("parameter_missing", "", "One of the following params should be provided for this request: payment_intent or charge.")
	}
	if reason != "" && !slices.Contains([]string{"duplicate", "fraudulent", "requested_by_customer"}, reason) {
		return invalidRequest("parameter_invalid_string", "reason", "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer")
	}
	if pi["status"] != "succeeded" {
		return invalidRequest("charge_not_refundable", "payment_intent", "This PaymentIntent does not have a successful charge to refund.")
	}
	received, refunded := jsonInt(pi["amount_received"]), jsonInt(pi["amount_refunded"])
	currency, _ := pi["currency"].(string)
	left := received - refunded
	if left <= 0 {
		return invalidRequest("charge_already_refunded", "", fmt.Sprintf("Charge %s has already been refunded.", pi["latest_charge"]))
	}
	if !hasAmount {
		amount = left
	}
	if amount < 1 {
		return invalidRequest("parameter_invalid_integer", "amount", "This value must be greater than or equal to 1.")
	}
	if amount > left {
		return invalidRequest("amount_too_large", "amount", fmt.Sprintf("Refund amount (%s) is greater than unrefunded amount on charge (%s)",
			money(amount, currency), money(left, currency)))
	}
	pi["amount_refunded"] = refunded + amount
	id := s.newID("re_")
	re := map[string]any{"id": id, "object": "refund", "amount": amount, "currency": currency, "charge": pi["latest_charge"],
		"payment_intent": pi["id"], "reason": nullable(reason), "status": "succeeded", "created": s.clock.Now().Unix(),
		"metadata": meta, "balance_transaction": fakeID("txn_", s.seq, 24), "receipt_number": nil}
	s.refunds[id] = re
	return stripeAnswer{status: http.StatusOK, body: re, executed: true}
}

func jsonInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int:
		return int64(x)
	case float64:
		return int64(x)
	case json.Number:
		n, _ := x.Int64()
		return n
	}
	return 0
}
