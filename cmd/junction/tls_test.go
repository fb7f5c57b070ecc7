package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/tlsfiles/tlstest"
)

// httpsClient trusts roots and presents certs; it opens a new connection per request, so
// each request sees the certificate served at that moment.
func httpsClient(roots *x509.CertPool, certs ...tls.Certificate) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Jar:     jar,
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: roots, Certificates: certs},
			DisableKeepAlives: true,
		},
	}
}

func do(t *testing.T, c *http.Client, method, url, token, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestServeTLS: HTTPS only; a certificate swapped on SIGHUP is served and a bad new pair
// is refused with the old one kept; a client certificate from the client CA whose CN
// names a token authenticates with that token's role, one from another CA is refused at
// the handshake; bearer tokens and the console's session work as before.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	serverCA, clientCA, strangerCA := tlstest.NewCA(t, "server CA"), tlstest.NewCA(t, "client CA"), tlstest.NewCA(t, "stranger CA")
	first := serverCA.Server()
	certFile, keyFile := first.Write(t, dir, "server")
	clientCAFile := clientCA.WriteCA(dir, "clients.pem")
	admin := adminToken(t, dir, nil)
	if _, errOut, code := run(t, dir, nil, "token", "create", "--role", "user", "--name", "ci-bot"); code != 0 {
		t.Fatalf("token create: %s", errOut)
	}

	plain := httpsClient(serverCA.Pool())
	s := startServerVia(t, dir, nil, "https", plain, "--tls-cert", certFile, "--tls-key", keyFile, "--tls-client-ca", clientCAFile)
	if !strings.Contains(s.log(), `scheme="https (client certificates accepted)"`) {
		t.Errorf("the start line does not say https:\n%s", s.log())
	}

	served := func() string {
		resp, _ := do(t, plain, "GET", s.base+"/healthz", "", "")
		return resp.TLS.PeerCertificates[0].SerialNumber.String()
	}
	if got := served(); got != first.Cert.SerialNumber.String() {
		t.Fatalf("served serial %s, want %s", got, first.Cert.SerialNumber)
	}

	// Plain HTTP is not served.
	resp, err := http.Get("http://" + strings.TrimPrefix(s.base, "https://") + "/healthz")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("plain HTTP answered 200")
		}
	}

	// Bearer tokens.
	if resp, body := do(t, plain, "GET", s.base+"/tokens", admin, ""); resp.StatusCode != 200 {
		t.Fatalf("bearer: %d %s", resp.StatusCode, body)
	}
	if resp, _ := do(t, plain, "GET", s.base+"/tokens", "", ""); resp.StatusCode != 401 {
		t.Fatalf("no credential: %d", resp.StatusCode)
	}

	// A client certificate naming the user token: a user, without a token.
	bot := httpsClient(serverCA.Pool(), clientCA.Client("ci-bot").TLS(t))
	if resp, body := do(t, bot, "GET", s.base+"/integrations/status", "", ""); resp.StatusCode != 200 {
		t.Fatalf("client certificate: %d %s", resp.StatusCode, body)
	}
	if resp, body := do(t, bot, "GET", s.base+"/console/me", "", ""); resp.StatusCode != 200 || !strings.Contains(body, `"role":"user"`) {
		t.Fatalf("client certificate identity: %d %s", resp.StatusCode, body)
	}
	if resp, _ := do(t, bot, "GET", s.base+"/tokens", "", ""); resp.StatusCode != 403 {
		t.Fatalf("a user certificate on an admin endpoint: %d", resp.StatusCode)
	}
	// With a certificate and a bearer token, the token decides.
	if resp, _ := do(t, bot, "GET", s.base+"/tokens", admin, ""); resp.StatusCode != 200 {
		t.Fatalf("certificate and admin token: %d", resp.StatusCode)
	}
	// A change asked for by another site's page, with the browser's certificate: refused.
	req, _ := http.NewRequest("POST", s.base+"/events", strings.NewReader(`{"type":"x","data":{}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if resp, err := bot.Do(req); err != nil || resp.StatusCode != 403 {
		t.Fatalf("cross-site change with a certificate: %v %v", resp, err)
	}
	// The CLI with a client certificate in place of a token (flags, or the environment).
	serverCAFile := serverCA.WriteCA(dir, "server-ca.pem")
	botCert, botKey := clientCA.Client("ci-bot").Write(t, dir, "bot")
	if out, errOut, code := run(t, dir, nil, "webhook", "list", "--server", s.base, "--ca-cert", serverCAFile, "--client-cert", botCert, "--client-key", botKey); code != 0 {
		t.Fatalf("webhook list with a client certificate: exit %d\n%s%s", code, out, errOut)
	}
	viaEnv := []string{"JUNCTION_URL=" + s.base, "JUNCTION_CA_CERT=" + serverCAFile, "JUNCTION_CLIENT_CERT=" + botCert, "JUNCTION_CLIENT_KEY=" + botKey}
	if out, errOut, code := run(t, dir, viaEnv, "report", "--format", "json"); code != 0 || !strings.HasPrefix(strings.TrimSpace(out), "{") {
		t.Fatalf("report with a client certificate from the environment: exit %d\n%s%s", code, out, errOut)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--ca-cert", serverCAFile}, "401"}, // no credential at all
		{nil, "certificate"},                         // the server's CA is not a system one
		{[]string{"--ca-cert", botKey}, "CA file " + botKey + " holds no CERTIFICATE block"}, // read before any request
		{[]string{"--ca-cert", serverCAFile, "--client-cert", botCert}, "certificate file " + botCert + " is given without its key file"},
	} {
		args := append([]string{"webhook", "list", "--server", s.base}, tc.args...)
		if _, errOut, code := run(t, dir, nil, args...); code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, want an error saying %q:\n%s", tc.args, code, tc.want, errOut)
		}
	}
	nobody := httpsClient(serverCA.Pool(), clientCA.Client("nobody").TLS(t))
	if resp, body := do(t, nobody, "GET", s.base+"/integrations/status", "", ""); resp.StatusCode != 401 || !strings.Contains(body, `CN \"nobody\" names no active API token`) {
		t.Fatalf("a certificate naming no token: %d %s", resp.StatusCode, body)
	}
	// A certificate from another CA, named like the user token: a Go client does not
	// even offer it (the server lists the CA it accepts), so the request has no credential;
	// one that insists on presenting it fails the handshake.
	strangerCert := strangerCA.Client("ci-bot").TLS(t)
	if resp, _ := do(t, httpsClient(serverCA.Pool(), strangerCert), "GET", s.base+"/integrations/status", "", ""); resp.StatusCode != 401 {
		t.Fatalf("a certificate from another CA, not offered: %d", resp.StatusCode)
	}
	insisting := httpsClient(serverCA.Pool())
	insisting.Transport.(*http.Transport).TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		return &strangerCert, nil
	}
	if resp, err := insisting.Get(s.base + "/integrations/status"); err == nil {
		resp.Body.Close()
		t.Fatalf("a certificate from another CA was accepted: %d", resp.StatusCode)
	} else if !strings.Contains(err.Error(), "certificate") {
		t.Errorf("refused for another reason: %v", err)
	}

	// The console's session over HTTPS.
	console := httpsClient(serverCA.Pool())
	if resp, body := do(t, console, "POST", s.base+"/console/session", "", fmt.Sprintf(`{"token":%q}`, admin)); resp.StatusCode != 200 {
		t.Fatalf("sign in: %d %s", resp.StatusCode, body)
	}
	if resp, body := do(t, console, "GET", s.base+"/console/me", "", ""); resp.StatusCode != 200 || !strings.Contains(body, `"role":"admin"`) {
		t.Fatalf("console session: %d %s", resp.StatusCode, body)
	}

	// Rotation: a new pair on SIGHUP is served by new connections.
	second := serverCA.Server()
	second.Write(t, dir, "server")
	_ = s.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(30 * time.Second)
	for served() != second.Cert.SerialNumber.String() {
		if time.Now().After(deadline) {
			t.Fatalf("the new certificate is not served:\n%s", s.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A bad pair (a new certificate with the old key) is refused; the one in force stays.
	third := serverCA.Server()
	if err := os.WriteFile(certFile, third.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	_ = s.cmd.Process.Signal(syscall.SIGHUP)
	for !strings.Contains(s.log(), "TLS certificate reload rejected") {
		if time.Now().After(deadline) {
			t.Fatalf("the bad pair was not rejected:\n%s", s.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(s.log(), certFile) {
		t.Errorf("the rejection does not name the file:\n%s", s.log())
	}
	if got := served(); got != second.Cert.SerialNumber.String() {
		t.Fatalf("after a bad reload the serial is %s, want %s", got, second.Cert.SerialNumber)
	}
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// TestServeTLSBadFiles: a missing, mismatched or half-given pair stops the start with an
// error naming the file, before storage is touched.
func TestServeTLSBadFiles(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "CA")
	cert, key := ca.Server().Write(t, dir, "server")
	_, otherKey := ca.Server().Write(t, dir, "other")
	missing := filepath.Join(dir, "missing.crt")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls-cert", missing, "--tls-key", key}, "certificate file " + missing + " cannot be read"},
		{[]string{"--tls-cert", cert, "--tls-key", otherKey}, "does not match"},
		{[]string{"--tls-cert", cert}, "--tls-cert is given without --tls-key"},
		{[]string{"--tls-client-ca", cert}, "--tls-client-ca needs --tls-cert and --tls-key"},
		{[]string{"--tls-cert", cert, "--tls-key", key, "--tls-client-ca", key}, "CA file " + key + " holds no CERTIFICATE block"},
	} {
		_, stderr, code := run(t, dir, nil, append([]string{"serve", "--addr", "127.0.0.1:0"}, c.args...)...)
		if code == 0 || !strings.Contains(stderr, c.want) || strings.Contains(stderr, "panic") {
			t.Errorf("%v: exit %d, stderr:\n%s\nwant %q", c.args, code, stderr, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "junction.db")); err == nil {
		t.Error("a refused start created the database")
	}
	// The environment variables work as the flags do.
	_, stderr, code := run(t, dir, []string{"JUNCTION_TLS_CERT=" + missing, "JUNCTION_TLS_KEY=" + key}, "serve", "--addr", "127.0.0.1:0")
	if code == 0 || !strings.Contains(stderr, missing) {
		t.Errorf("JUNCTION_TLS_CERT: exit %d %s", code, stderr)
	}
}

// TestIntegrationTLSEndToEnd: an integration reaching an HTTPS API with a private CA and
// mutual TLS through the server's gateway; validate reports a bad tls file with its
// position.
func TestIntegrationTLSEndToEnd(t *testing.T) {
	dir := t.TempDir()
	upCA, clientCA := tlstest.NewCA(t, "upstream CA"), tlstest.NewCA(t, "junction CA")
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"client":%q}`, r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	up.TLS = &tls.Config{Certificates: []tls.Certificate{upCA.Server().TLS(t)}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientCA.Pool()}
	up.StartTLS()
	defer up.Close()
	upCA.WriteCA(dir, "upstream-ca.pem")
	clientCA.Client("junction").Write(t, dir, "client")

	cfg := filepath.Join(dir, "c.cai")
	writeFile(t, cfg, `integration Private {
  base_url: "`+up.URL+`"
  tls { ca: "upstream-ca.pem"  cert: "client.crt"  key: "client.key" }
  operation who { method: GET  path: "/who" }
}`)
	if out, _, code := run(t, dir, nil, "validate", cfg); code != 0 {
		t.Fatalf("validate: %d %s", code, out)
	}
	token := adminToken(t, dir, nil)
	s := startServer(t, dir, nil, "-c", cfg)
	resp, body := do(t, http.DefaultClient, "POST", s.base+"/integrations/Private/operations/who", token, "{}")
	if resp.StatusCode != 200 || !strings.Contains(body, `"client":"junction"`) {
		t.Fatalf("call over mutual TLS: %d %s\n%s", resp.StatusCode, body, s.log())
	}

	bad := filepath.Join(dir, "bad.cai")
	writeFile(t, bad, `integration Private {
  base_url: "`+up.URL+`"
  tls { ca: "nowhere.pem" }
}`)
	out, _, code := run(t, dir, nil, "validate", bad)
	if code == 0 || !strings.Contains(out, bad+":3:13: tls ca: CA file "+filepath.Join(dir, "nowhere.pem")+" cannot be read") {
		t.Fatalf("validate of a missing CA file: exit %d\n%s", code, out)
	}
}
