package integration

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
)

// TestEncodeForm: Stripe's bracket notation, sorted, lists indexed, null as empty.
func TestEncodeForm(t *testing.T) {
	got := string(encodeForm(map[string]any{
		"amount":   json.Number("2000"),
		"metadata": map[string]any{"order": "42", "note": "a&b c"},
		"types":    []any{"card", "link"},
		"items":    []any{map[string]any{"price": "p_1", "quantity": 2.0}},
		"confirm":  true,
		"desc":     nil,
		"empty":    []any{},
	}))
	want := "amount=2000&confirm=true&desc=&items%5B0%5D%5Bprice%5D=p_1&items%5B0%5D%5Bquantity%5D=2" +
		"&metadata%5Bnote%5D=a%26b+c&metadata%5Border%5D=42&types%5B0%5D=card&types%5B1%5D=link"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if v, err := url.ParseQuery(got); err != nil || v.Get("metadata[note]") != "a&b c" {
		t.Errorf("does not parse back: %v %v", v, err)
	}
}

// TestFormOperation: body_type: form sends the body form-encoded, defaults included.
func TestFormOperation(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, _ int) { jsonOK(w, `{"ok":true}`) })
	h := newHarness(t, `integration Pay {
    base_url: "UPSTREAM"
    operation charge { method: POST  path: "/charges"  body_type: form
        body: { amount: integer, required  currency: string, default("eur")  metadata: json, optional } }
}`, up.URL, nil)
	h.mustCall(t, "Pay", "charge", map[string]any{"amount": 500, "metadata": map[string]any{"k": "v"}})
	r := up.last()
	if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || r.Body != "amount=500&currency=eur&metadata%5Bk%5D=v" {
		t.Errorf("sent %q as %q", r.Body, r.Header.Get("Content-Type"))
	}
	_, err := h.call(t, "Pay", "charge", map[string]any{"amount": "five"})
	if kindOf(t, err) != KindInvalidParams {
		t.Errorf("mistyped amount: %v", err)
	}
}

// TestInternalWithoutComputation: an internal operation Junction cannot compute
// answers not-implemented, and never reaches the upstream.
func TestInternalWithoutComputation(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, _ int) { jsonOK(w, `{}`) })
	h := newHarness(t, `integration X { base_url: "UPSTREAM"  operation compute { method: internal } }`, up.URL, nil)
	_, err := h.call(t, "X", "compute", nil)
	if kindOf(t, err) != KindNotImplemented || up.count() != 0 {
		t.Errorf("err %v, %d requests", err, up.count())
	}
}
