package integration

import (
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/tlsfiles/tlstest"
)

// privateTLSServer is an upstream with a certificate from a CA of the test's own; with
// clients set, it also requires a client certificate from that pool.
func privateTLSServer(t *testing.T, ca *tlstest.CA, clients *tlstest.CA) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cn := ""
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			cn = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		jsonOK(w, `{"client":"`+cn+`"}`)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are what some tests do
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Server().TLS(t)}}
	if clients != nil {
		srv.TLS.ClientAuth = tls.RequireAndVerifyClientCert
		srv.TLS.ClientCAs = clients.Pool()
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func TestTLSPrivateCA(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "upstream CA")
	caFile := ca.WriteCA(dir, "ca.pem")
	srv := privateTLSServer(t, ca, nil)
	const ops = `
operation get { method: GET  path: "/thing" } }`

	h := newHarness(t, `integration Private { base_url: "UPSTREAM"
  tls { ca: "`+caFile+`" } `+ops, srv.URL, nil)
	if res := h.mustCall(t, "Private", "get", nil); res.Status != 200 {
		t.Fatalf("status %d: %s", res.Status, res.Body)
	}

	// Without the CA the system's roots do not know the server's issuer.
	h = newHarness(t, `integration Public { base_url: "UPSTREAM" `+ops, srv.URL, nil)
	_, err := h.call(t, "Public", "get", nil)
	if kindOf(t, err) != KindUnreachable || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Fatalf("without tls { ca }: %v", err)
	}
	t.Logf("without tls { ca }: %v", err)

	// server_name: the certificate names localhost, not the address dialled.
	url := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	h = newHarness(t, `integration Named { base_url: "UPSTREAM"
  tls { ca: "`+caFile+`"  server_name: "other.example" } `+ops, url, nil)
	if _, err := h.call(t, "Named", "get", nil); err == nil || !strings.Contains(err.Error(), "other.example") {
		t.Fatalf("a server_name the certificate does not carry: %v", err)
	}
}

func TestTLSClientCertificate(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "upstream CA")
	clients := tlstest.NewCA(t, "client CA")
	caFile := ca.WriteCA(dir, "ca.pem")
	cert, key := clients.Client("junction-node").Write(t, dir, "client")
	srv := privateTLSServer(t, ca, clients)
	const ops = `
operation get { method: GET  path: "/thing" } }`

	h := newHarness(t, `integration M { base_url: "UPSTREAM"
  tls { ca: "`+caFile+`"  cert: "`+cert+`"  key: "`+key+`" } `+ops, srv.URL, nil)
	res := h.mustCall(t, "M", "get", nil)
	if res.Status != 200 || !strings.Contains(string(res.Body), `"client":"junction-node"`) {
		t.Fatalf("mutual TLS: %d %s", res.Status, res.Body)
	}

	// The server asks for a certificate and the integration has none.
	h = newHarness(t, `integration NoCert { base_url: "UPSTREAM"
  tls { ca: "`+caFile+`" } `+ops, srv.URL, nil)
	if _, err := h.call(t, "NoCert", "get", nil); kindOf(t, err) != KindUnreachable || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without cert/key: %v", err)
	}
}

// TestTLSReloadRereadsFiles: the same configuration with a rotated CA file is a change,
// so the reloaded runtime trusts the new CA.
func TestTLSReloadRereadsFiles(t *testing.T) {
	dir := t.TempDir()
	oldCA, newCA := tlstest.NewCA(t, "old CA"), tlstest.NewCA(t, "new CA")
	caFile := oldCA.WriteCA(dir, "ca.pem")
	srv := privateTLSServer(t, newCA, nil)
	src := `integration P { base_url: "UPSTREAM"
  tls { ca: "` + caFile + `" }
operation get { method: GET  path: "/" } }`

	h := newHarness(t, src, srv.URL, nil)
	if _, err := h.call(t, "P", "get", nil); err == nil {
		t.Fatal("the old CA was trusted for the new CA's server")
	}
	newCA.WriteCA(dir, "ca.pem")
	h = h.reload(t, src, srv.URL, nil)
	if res := h.mustCall(t, "P", "get", nil); res.Status != 200 {
		t.Fatalf("after the reload: %d", res.Status)
	}
}

// TestTLSUnreadableFileAtRuntime: a file broken between loading the configuration and
// building the runtime makes the integration misconfigured, with the file named, rather
// than failing the runtime.
func TestTLSUnreadableFileAtRuntime(t *testing.T) {
	dir := t.TempDir()
	caFile := tlstest.NewCA(t, "CA").WriteCA(dir, "ca.pem")
	src := `integration P {
  base_url: "https://example.invalid"
  tls { ca: "` + caFile + `" }
  operation get { method: GET  path: "/" }
}`
	h := newHarness(t, "", "", nil)
	cfg, diags := config.Decode("test.cai", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	if err := os.WriteFile(caFile, []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := h.opts
	o.Previous = h.rt
	rt, err := New(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Close)
	_, err = rt.Call(t.Context(), "P", "get", nil, CallOptions{})
	if kindOf(t, err) != KindMisconfigured || !strings.Contains(err.Error(), caFile) {
		t.Fatalf("unreadable CA: %v", err)
	}
}
