package integration

import (
	"context"
	"errors"
	"net/http"
	"testing"
)

// TestXMLBodiesAndAnswers: a `body_type: xml` operation sends its body fields as one
// XML document, and XML answers reach callers as JSON, with the lists its `returns`
// declares as lists even when the answer has one element; error answers too.
func TestXMLBodiesAndAnswers(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Content-Type", "application/xml")
		switch r.URL.Query().Get("case") {
		case "missing":
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>`))
		case "broken":
			_, _ = w.Write([]byte(`<DeleteResult><Deleted>`))
		case "binary":
			_, _ = w.Write([]byte(`<raw/>`))
		default:
			_, _ = w.Write([]byte(`<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Deleted><Key>a.txt</Key></Deleted></DeleteResult>`))
		}
	})
	h := newHarness(t, `integration S3 { base_url: "UPSTREAM"
		operation delete_objects {
			method: POST
			path: "/bucket"
			query: { delete: string, default(""), case: string, optional }
			body_type: xml
			body: { Delete: json, required }
			returns: { DeleteResult: { Deleted: list({ Key: string }) } }
		}
		operation raw { method: GET, path: "/raw", query: { case: string, default("binary") }, returns: binary }
	}`, up.URL, nil)
	ctx := context.Background()
	res, err := h.rt.Call(ctx, "S3", "delete_objects", map[string]any{"Delete": map[string]any{"Object": []any{map[string]any{"Key": "a.txt"}}, "Quiet": false}}, CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sent := up.last()
	if want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<Delete><Object><Key>a.txt</Key></Object><Quiet>false</Quiet></Delete>` + "\n"; sent.Body != want ||
		sent.Header.Get("Content-Type") != "application/xml" || sent.Header.Get("Accept") != "application/xml" {
		t.Errorf("request %q (Content-Type %q, Accept %q), want %q as application/xml", sent.Body, sent.Header.Get("Content-Type"), sent.Header.Get("Accept"), want)
	}
	if want := `{"DeleteResult":{"@xmlns":"http://s3.amazonaws.com/doc/2006-03-01/","Deleted":[{"Key":"a.txt"}]}}`; string(res.Body) != want || res.Header.Get("Content-Type") != "application/json" {
		t.Errorf("answer %s (%s), want %s as JSON", res.Body, res.Header.Get("Content-Type"), want)
	}
	if len(res.ContractMismatches) != 0 {
		t.Errorf("contract mismatches %v", res.ContractMismatches)
	}

	res, err = h.rt.Call(ctx, "S3", "delete_objects", map[string]any{"Delete": map[string]any{}, "case": "missing"}, CallOptions{})
	if err != nil || res.Status != http.StatusNotFound || string(res.Body) != `{"Error":{"Code":"NoSuchKey","Message":"The specified key does not exist."}}` {
		t.Errorf("error answer: %v, %d %s", err, res.Status, res.Body)
	}

	_, err = h.rt.Call(ctx, "S3", "delete_objects", map[string]any{"Delete": map[string]any{}, "case": "broken"}, CallOptions{})
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindUpstreamInvalid || e.Detail != "the answer is not well-formed XML: invalid XML: element <Deleted> is not closed at the end of the document" {
		t.Errorf("malformed answer: %v", err)
	}

	// Two body fields have no one root element.
	_, err = h.rt.Call(ctx, "S3", "delete_objects", map[string]any{"Delete": map[string]any{}, "Extra": 1}, CallOptions{})
	if !errors.As(err, &e) || e.Kind != KindInvalidParams {
		t.Errorf("unknown parameter: %v", err)
	}

	res, err = h.rt.Call(ctx, "S3", "raw", nil, CallOptions{})
	if err != nil || string(res.Body) != `<raw/>` {
		t.Errorf("returns: binary answer %v %s, want it as it came", err, res.Body)
	}
}
