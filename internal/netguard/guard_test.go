package netguard_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/junctionhq/junction/internal/netguard"
)

// The tests start HTTP servers and keep-alive connections; none may outlive them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newGuard(t *testing.T, allowed ...string) *netguard.Guard {
	t.Helper()
	g, err := netguard.New(allowed)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Client().CloseIdleConnections)
	return g
}

// server counts the requests it receives, so a test can show a refused connection
// never reached it.
func server(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err == nil {
		t.Cleanup(func() { resp.Body.Close() })
	}
	return resp, err
}

func TestAllowedDefault(t *testing.T) {
	blocked := []string{
		// IPv4
		"0.0.0.0", "0.1.2.3", "10.0.0.1", "10.255.255.255", "100.64.0.1", "100.127.255.255",
		"127.0.0.1", "127.1.2.3", "169.254.169.254", "169.254.0.1", "172.16.0.1", "172.31.255.255",
		"192.0.0.8", "192.0.2.1", "192.88.99.1", "192.168.0.1", "192.168.255.255", "198.18.0.1",
		"198.19.255.255", "198.51.100.7", "203.0.113.9", "224.0.0.1", "239.255.255.250",
		"240.0.0.1", "255.255.255.255",
		// IPv6
		"::", "::1", "::127.0.0.1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1",
		"::ffff:0.0.0.0", "100::1", "fc00::1", "fd12:3456:789a::1", "fd00:ec2::254", "fe80::1",
		"fe80::1%eth0", "febf::1", "fec0::1", "ff02::1", "ff0e::1", "2001::1", "2001:db8::1",
		"2001:2::1", "2001:10::1", "2001:20::1", "3fff::1", "5f00::1", "4000::1", "1000::1",
		"64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b::a00:1", "64:ff9b:1::1",
		"2002:7f00:1::1", "2002:a00:1::", "2002:a9fe:a9fe::",
	}
	allowed := []string{
		"1.1.1.1", "8.8.8.8", "100.63.255.255", "100.128.0.0", "126.255.255.255", "128.0.0.1",
		"169.253.255.255", "169.255.0.0", "172.15.255.255", "172.32.0.0", "192.167.255.255",
		"192.169.0.1", "198.17.255.255", "198.20.0.0", "223.255.255.255",
		"2606:4700:4700::1111", "2a00:1450:4001:82a::200e", "2c0f:fb50:4003::", "2001:4860:4860::8888",
		"::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1",
	}
	g := newGuard(t)
	var zero netguard.Guard
	for _, s := range blocked {
		ip := netip.MustParseAddr(s)
		if g.Allowed(ip) || zero.Allowed(ip) {
			t.Errorf("%s allowed, want blocked", s)
		}
	}
	for _, s := range allowed {
		ip := netip.MustParseAddr(s)
		if !g.Allowed(ip) || !zero.Allowed(ip) {
			t.Errorf("%s blocked, want allowed", s)
		}
	}
	if g.Allowed(netip.Addr{}) {
		t.Error("the invalid Addr is allowed")
	}
}

func TestAllowList(t *testing.T) {
	g := newGuard(t, "127.0.0.0/8", "10.1.0.0/16", "fd00::/8", " ::ffff:192.168.7.0/120", "10.9.9.9/8")
	for _, s := range []string{"127.0.0.1", "::ffff:127.0.0.1", "10.1.2.3", "fd00::1", "192.168.7.7", "::ffff:192.168.7.7", "64:ff9b::a01:203", "10.200.0.1"} {
		if !g.Allowed(netip.MustParseAddr(s)) {
			t.Errorf("%s blocked although in the allow-list", s)
		}
	}
	for _, s := range []string{"172.16.0.1", "192.168.8.1", "169.254.169.254", "::1", "fe80::1"} {
		if g.Allowed(netip.MustParseAddr(s)) {
			t.Errorf("%s allowed although not in the allow-list", s)
		}
	}
	if !g.Allowed(netip.MustParseAddr("8.8.8.8")) {
		t.Error("a public address is blocked by having an allow-list")
	}
}

func TestNewRejectsBadCIDR(t *testing.T) {
	for _, s := range []string{"10.0.0.0", "not-a-network", "10.0.0.0/33", "", "fe80::1%eth0/64", "::1/129"} {
		_, err := netguard.New([]string{"127.0.0.0/8", s})
		if err == nil {
			t.Errorf("New accepted %q", s)
			continue
		}
		if !strings.Contains(err.Error(), `"`+s+`"`) {
			t.Errorf("error %q does not name %q", err, s)
		}
	}
}

func TestLoopbackServerRefusedByDefault(t *testing.T) {
	srv, hits := server(t, func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	_, err := get(t, newGuard(t).Client(), srv.URL)
	if !errors.Is(err, netguard.ErrBlocked) {
		t.Fatalf("GET %s = %v, want ErrBlocked", srv.URL, err)
	}
	if !strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("error does not name the address: %v", err)
	}
	if hits.Load() != 0 {
		t.Error("the server was reached")
	}
}

func TestLoopbackServerReachableWhenAllowed(t *testing.T) {
	srv, hits := server(t, func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	resp, err := get(t, newGuard(t, "127.0.0.0/8").Client(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != "ok" || hits.Load() != 1 {
		t.Errorf("status %d, body %q, hits %d", resp.StatusCode, body, hits.Load())
	}
}

// localhost passes any check on the URL's text (it is a name, not an address); it is
// refused only because the check runs on the address it resolved to, at connect time.
func TestHostnameResolvingToLoopbackRefusedAtConnect(t *testing.T) {
	srv, hits := server(t, func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	u, _ := url.Parse(srv.URL)
	local := "http://localhost:" + u.Port() + "/"
	if err := netguard.CheckURL(local); err != nil {
		t.Fatalf("CheckURL(%s) = %v", local, err)
	}
	_, err := get(t, newGuard(t).Client(), local)
	if !errors.Is(err, netguard.ErrBlocked) {
		t.Fatalf("GET %s = %v, want ErrBlocked", local, err)
	}
	if hits.Load() != 0 {
		t.Error("the server was reached")
	}
	// Allowing the loopback networks lets the same name through, so the refusal above
	// came from the resolved address and not from the name.
	resp, err := get(t, newGuard(t, "127.0.0.0/8", "::1/128").Client(), local)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s with loopback allowed = %v", local, err)
	}
}

func TestDialContext(t *testing.T) {
	g := newGuard(t)
	ctx := context.Background()
	for _, addr := range []string{"127.0.0.1:9", "[::1]:9", "[::ffff:127.0.0.1]:9", "169.254.169.254:80", "[fe80::1%lo]:80", "0.0.0.0:80", "localhost:9"} {
		conn, err := g.DialContext(ctx, "tcp", addr)
		if err == nil {
			conn.Close()
			t.Errorf("dial %s succeeded", addr)
			continue
		}
		if !errors.Is(err, netguard.ErrBlocked) {
			t.Errorf("dial %s = %v, want ErrBlocked", addr, err)
		}
	}
	for _, network := range []string{"udp", "unix", "ip4:icmp"} {
		if _, err := g.DialContext(ctx, network, "8.8.8.8:53"); !errors.Is(err, netguard.ErrBlocked) {
			t.Errorf("network %s: %v, want ErrBlocked", network, err)
		}
	}
}

func TestDialContextAllowed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	conn, err := newGuard(t, "127.0.0.1/32").DialContext(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	<-done
}

func TestRedirectNotFollowed(t *testing.T) {
	target, targetHits := server(t, func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "followed") })
	srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/elsewhere", http.StatusFound)
	})
	resp, err := get(t, newGuard(t, "127.0.0.0/8").Client(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != target.URL+"/elsewhere" {
		t.Errorf("status %d, Location %q; want the 302 itself", resp.StatusCode, resp.Header.Get("Location"))
	}
	if targetHits.Load() != 0 {
		t.Error("the redirect was followed")
	}
}

func TestClientSettings(t *testing.T) {
	c := newGuard(t).Client()
	tr, ok := c.Transport.(*http.Transport)
	if !ok || tr == nil {
		t.Fatalf("transport is %T, want the guard's *http.Transport", c.Transport)
	}
	if tr.Proxy != nil {
		t.Error("the transport uses a proxy")
	}
	if c.Timeout != 0 {
		t.Error("the client has its own timeout; deadlines belong to the caller's context")
	}
	if tr.DialContext == nil || tr.DialTLSContext != nil {
		t.Error("the transport has a dialer other than the guard's")
	}
}

// The caller's context bounds a delivery to a slow endpoint.
func TestContextDeadline(t *testing.T) {
	release := make(chan struct{})
	srv, _ := server(t, func(http.ResponseWriter, *http.Request) { <-release })
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, strings.NewReader("{}"))
	resp, err := newGuard(t, "127.0.0.0/8").Client().Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatal("request to a stalled endpoint succeeded")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error = %v, want the context's deadline", err)
	}
}

func TestCheckURL(t *testing.T) {
	ok := []string{
		"https://example.com/hooks", "http://example.com", "HTTPS://Example.COM:8443/a?b=c#d",
		"http://10.0.0.1/", "http://[2001:db8::1]:8080/x", "https://hooks.example.com:443",
	}
	for _, s := range ok {
		if err := netguard.CheckURL(s); err != nil {
			t.Errorf("CheckURL(%q) = %v", s, err)
		}
	}
	bad := []struct{ url, want string }{
		{"ftp://example.com/", "scheme must be http or https"},
		{"file:///etc/passwd", "scheme must be http or https"},
		{"gopher://example.com", "scheme must be http or https"},
		{"example.com/hooks", "scheme must be http or https"},
		{"//example.com/hooks", "scheme must be http or https"},
		{"", "scheme must be http or https"},
		{"https://user:s3cr3t-pass@example.com/", "user information"},
		{"https://token@example.com/", "user information"},
		{"http:example.com", "no host"},
		{"https:///path", "no host"},
		{"https://:443/", "no host"},
		{"http://example.com:0/", "port must be 1 to 65535"},
		{"http://example.com:65536/", "port must be 1 to 65535"},
		{"http://example.com:99999999999999999999/", "port must be 1 to 65535"},
		{"http://exa mple.com/", "does not parse"},
		{"http://example.com/\x7f", "does not parse"},
		{"http://[::1/", "does not parse"},
		{"http://user:s3cr3t-pass@exa mple.com/", "does not parse"},
	}
	for _, c := range bad {
		err := netguard.CheckURL(c.url)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("CheckURL(%q) = %v, want an error saying %q", c.url, err, c.want)
			continue
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("CheckURL(%q) repeats the credentials: %v", c.url, err)
		}
	}
}
