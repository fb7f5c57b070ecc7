package integration

import (
	"net/http"
	"testing"
)

// TestXMLAnswers: a successful XML answer of an operation with a `returns` shape is
// answered as JSON, its declared lists as arrays even of one; without a shape, and on
// failure, the answer is the upstream's.
func TestXMLAnswers(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Content-Type", "application/xml; charset=utf-8")
		switch r.URL.Path {
		case "/broken":
			w.Write([]byte(`<Result><Item>`))
		case "/missing":
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`<Error><Code>NoSuchKey</Code></Error>`))
		default:
			w.Write([]byte(`<?xml version="1.0"?><Result id="7"><Item><Name>a</Name></Item><Count>1</Count></Result>`))
		}
	})
	h := newHarness(t, `integration X {
    base_url: "UPSTREAM"
    operation shaped { method: GET  path: "/list"  returns: { Result: { Count: string  Item: list({ Name: string }) } } }
    operation raw { method: GET  path: "/list" }
    operation broken { method: GET  path: "/broken"  returns: { Result: { Count: string } } }
    operation missing { method: GET  path: "/missing"  returns: { Result: { Count: string } } }
}`, up.URL, nil)
	res := h.mustCall(t, "X", "shaped", nil)
	if string(res.Body) != `{"Result":{"@id":"7","Count":"1","Item":[{"Name":"a"}]}}` || res.Header.Get("Content-Type") != "application/json" || len(res.ContractMismatches) > 0 {
		t.Errorf("shaped: %s %v %v", res.Body, res.Header, res.ContractMismatches)
	}
	if res := h.mustCall(t, "X", "raw", nil); res.Header.Get("Content-Type") != "application/xml; charset=utf-8" || res.Body[0] != '<' {
		t.Errorf("raw: %s", res.Body)
	}
	if res := h.mustCall(t, "X", "broken", nil); res.Body[0] != '<' || len(res.ContractMismatches) != 1 {
		t.Errorf("broken: %s %v", res.Body, res.ContractMismatches)
	}
	if res := h.mustCall(t, "X", "missing", nil); res.Status != 404 || res.Body[0] != '<' {
		t.Errorf("missing: %d %s", res.Status, res.Body)
	}
}
