package app

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestFlowStatusServerWithoutScheme: `--server 127.0.0.1:9090`, the address serve was
// started with, reaches the server as http://127.0.0.1:9090.
func TestFlowStatusServerWithoutScheme(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/flows" || r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"data":[{"name":"orders","state":"running"}]}`))
	}))
	defer srv.Close()
	for _, base := range []string{srv.URL, strings.TrimPrefix(srv.URL, "http://"), strings.TrimPrefix(srv.URL, "http://") + "/"} {
		var out strings.Builder
		if err := FlowStatus(t.Context(), APIClient{BaseURL: base, Token: "tok"}, "", &out); err != nil {
			t.Errorf("--server %s: %v", base, err)
			continue
		}
		if !strings.Contains(out.String(), "orders") {
			t.Errorf("--server %s: no flow listed:\n%s", base, out.String())
		}
	}
}
