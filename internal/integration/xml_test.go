package integration

import (
	"context"
	"errors"
	"net/http"
	"strings"
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

// TestXMLBodies: a `body_type: xml` operation sends its one body field as an XML
// document (Content-Type and Accept application/xml), and its XML answer reaches the
// caller as JSON with the lists its `returns` declares.
func TestXMLBodies(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Content-Type", "application/xml")
		_, _ = w.Write([]byte(`<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Deleted><Key>a.txt</Key></Deleted></DeleteResult>`))
	})
	h := newHarness(t, `integration S3 { base_url: "UPSTREAM"
		operation delete_objects {
			method: POST
			path: "/bucket"
			query: { delete: string, default("") }
			body_type: xml
			body: { Delete: json, required }
			returns: { DeleteResult: { Deleted: list({ Key: string }) } }
		}
	}`, up.URL, nil)
	res := h.mustCall(t, "S3", "delete_objects", map[string]any{"Delete": map[string]any{"Object": []any{map[string]any{"Key": "a.txt"}}, "Quiet": false, "Max": 2.0}})
	sent := up.last()
	if want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<Delete><Max>2</Max><Object><Key>a.txt</Key></Object><Quiet>false</Quiet></Delete>` + "\n"; sent.Body != want ||
		sent.Header.Get("Content-Type") != "application/xml" || sent.Header.Get("Accept") != "application/xml" {
		t.Errorf("request %q (Content-Type %q, Accept %q), want %q as application/xml", sent.Body, sent.Header.Get("Content-Type"), sent.Header.Get("Accept"), want)
	}
	if want := `{"DeleteResult":{"@xmlns":"http://s3.amazonaws.com/doc/2006-03-01/","Deleted":[{"Key":"a.txt"}]}}`; string(res.Body) != want || len(res.ContractMismatches) != 0 {
		t.Errorf("answer %s (mismatches %v), want %s", res.Body, res.ContractMismatches, want)
	}
	// A body that is not one element has no XML form: the call is refused, not sent.
	_, err := h.rt.Call(context.Background(), "S3", "delete_objects", map[string]any{"Delete": []any{1, 2}}, CallOptions{})
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindInvalidParams || len(e.Params) != 1 || !strings.HasPrefix(e.Params[0].Detail, "cannot encode the body as XML: ") {
		t.Errorf("an array body: %v", err)
	}
}
