package server_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/junctionhq/junction/internal/server"
)

func TestWriteProblem(t *testing.T) {
	tests := []struct {
		name string
		p    server.Problem
		want string // exact body
		auth string // WWW-Authenticate
	}{
		{
			name: "kind with detail",
			p:    server.NewProblem(server.KindNotFound, "no token with id \"x\""),
			want: `{"type":"https://junction.dev/problems/not-found","title":"Not found","status":404,"detail":"no token with id \"x\"","instance":"/tokens/x"}`,
		},
		{
			name: "field errors and extensions in key order",
			p: server.NewProblem(server.KindInvalidRequest, "bad").
				With("zeta", 1).With("alpha", []int{1}).
				With("status", 999), // may not override a standard member
			want: `{"type":"https://junction.dev/problems/invalid-request","title":"Invalid request","status":400,"detail":"bad","instance":"/tokens/x","alpha":[1],"zeta":1}`,
		},
		{
			name: "bare status is completed",
			p:    server.Problem{Status: http.StatusUnauthorized},
			want: `{"type":"https://junction.dev/problems/unauthorized","title":"Unauthorized","status":401,"detail":"Unauthorized","instance":"/tokens/x"}`,
			auth: `Bearer realm="junction"`,
		},
		{
			name: "status without a kind",
			p:    server.Problem{Status: http.StatusConflict, Detail: "busy"},
			want: `{"type":"about:blank","title":"Conflict","status":409,"detail":"busy","instance":"/tokens/x"}`,
		},
		{
			name: "zero problem is a 500",
			p:    server.Problem{},
			want: `{"type":"https://junction.dev/problems/internal","title":"Internal server error","status":500,"detail":"Internal server error","instance":"/tokens/x"}`,
		},
		{
			name: "unknown kind",
			p:    server.NewProblem("nonsense", "d"),
			want: `{"type":"https://junction.dev/problems/internal","title":"Internal server error","status":500,"detail":"d","instance":"/tokens/x"}`,
		},
		{
			name: "unencodable extension is dropped",
			p:    server.NewProblem(server.KindForbidden, "no").With("ch", make(chan int)),
			want: `{"type":"https://junction.dev/problems/forbidden","title":"Forbidden","status":403,"detail":"no","instance":"/tokens/x"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			r := httptest.NewRequest("GET", "/tokens/x?q=1", nil)
			server.WriteProblem(w, r, tt.p)
			if got := strings.TrimSpace(w.Body.String()); got != tt.want {
				t.Errorf("body\n got %s\nwant %s", got, tt.want)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tt.auth {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.auth)
			}
			var m map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
			if int(m["status"].(float64)) != w.Code {
				t.Errorf("status member %v differs from HTTP status %d", m["status"], w.Code)
			}
		})
	}
}

func TestProblemWithDoesNotAlias(t *testing.T) {
	base := server.NewProblem(server.KindInvalidRequest, "x").With("a", 1)
	_ = base.With("b", 2)
	if _, ok := base.Extensions["b"]; ok {
		t.Error("With modified the original problem")
	}
}

func TestProblemFieldErrors(t *testing.T) {
	p := server.NewProblem(server.KindInvalidRequest, "bad")
	p.Errors = []server.FieldError{{Field: "role", Detail: "required"}, {Field: "", Detail: "whole body"}}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	want := `"errors":[{"field":"role","detail":"required"},{"field":"","detail":"whole body"}]`
	if !strings.Contains(string(b), want) {
		t.Errorf("%s lacks %s", b, want)
	}
}
