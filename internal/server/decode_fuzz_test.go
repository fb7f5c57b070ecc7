package server

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzDecodeJSON checks that no body makes decodeJSON panic, and that every rejection
// is a complete problem document. The seeds run as part of go test.
func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `null`, `[]`, `{"role":"user","name":"x"}`, `{"role":5}`, `{"x":1}`,
		`{"role":"user"} {}`, "{\n\"role\":", `{"name":"\ud800"}`, "\xff\xfe", `{"role":"user","name":"x"}}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/tokens", strings.NewReader(body))
		var dst createTokenRequest
		p := decodeJSON(w, r, 1<<10, &dst)
		if p == nil {
			if !json.Valid([]byte(body)) {
				t.Fatalf("accepted invalid JSON %q", body)
			}
			return
		}
		if p.Status < 400 || p.Type == "" || p.Title == "" || p.Detail == "" {
			t.Fatalf("incomplete problem %+v for %q", p, body)
		}
		if _, err := json.Marshal(p); err != nil {
			t.Fatalf("problem does not encode: %v", err)
		}
	})
}
