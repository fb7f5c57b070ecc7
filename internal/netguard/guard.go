package netguard

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrBlocked is wrapped by every refused connection.
var ErrBlocked = errors.New("address not allowed")

// Guard decides which addresses deliveries may connect to. Make one with New (or use the
// zero value, which allows public addresses only) and share it: its Client reuses one
// connection pool. It is safe for concurrent use.
type Guard struct {
	allowed []netip.Prefix

	once      sync.Once
	transport *http.Transport
}

// New returns a Guard that also allows the given networks, in CIDR form ("10.0.0.0/8",
// "::1/128"), although they are not public. A bad entry is an error naming it.
func New(allowedCIDRs []string) (*Guard, error) {
	g := &Guard{}
	for _, s := range allowedCIDRs {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("netguard: allowed network %q is not in CIDR form such as 10.0.0.0/8: %w", s, err)
		}
		p = p.Masked()
		// Allowed judges IPv4-mapped addresses as IPv4, so an entry written in the
		// mapped form ("::ffff:10.0.0.0/104") must be stored as IPv4 too to match.
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		g.allowed = append(g.allowed, p)
	}
	return g, nil
}

var (
	// blockedV4 are the IPv4 special-purpose blocks (IANA registry, RFC 6890 and later)
	// that are not globally reachable or not unicast, plus those whose reachability is
	// too narrow to be a webhook receiver (192.0.0.0/24, 192.88.99.0/24).
	blockedV4 = prefixes(
		"0.0.0.0/8",       // "this network"
		"10.0.0.0/8",      // private
		"100.64.0.0/10",   // carrier-grade NAT, shared address space
		"127.0.0.0/8",     // loopback
		"169.254.0.0/16",  // link-local; 169.254.169.254 is the cloud metadata service
		"172.16.0.0/12",   // private
		"192.0.0.0/24",    // IETF protocol assignments
		"192.0.2.0/24",    // documentation (TEST-NET-1)
		"192.88.99.0/24",  // 6to4 relay anycast (deprecated)
		"192.168.0.0/16",  // private
		"198.18.0.0/15",   // benchmarking
		"198.51.100.0/24", // documentation (TEST-NET-2)
		"203.0.113.0/24",  // documentation (TEST-NET-3)
		"224.0.0.0/4",     // multicast
		"240.0.0.0/4",     // reserved, and 255.255.255.255 broadcast
	)
	// globalV6 is the only IPv6 block allocated for global unicast; everything outside
	// it (loopback, unspecified, unique local, link-local, multicast, …) is refused.
	globalV6 = netip.MustParsePrefix("2000::/3")
	// blockedV6 are the non-global blocks inside 2000::/3.
	blockedV6 = prefixes(
		"2001::/23",     // IETF protocol assignments: Teredo, benchmarking, ORCHID, …
		"2001:db8::/32", // documentation
		"3fff::/20",     // documentation (RFC 9637)
	)
	// Addresses that gateways translate to the IPv4 address they embed.
	nat64     = netip.MustParsePrefix("64:ff9b::/96") // RFC 6052, IPv4 in the last 32 bits
	sixToFour = netip.MustParsePrefix("2002::/16")    // RFC 3056, IPv4 in bits 16–47
)

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

func containedIn(list []netip.Prefix, ip netip.Addr) bool {
	for _, p := range list {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Allowed reports whether a delivery may connect to ip: it is in an allowed network, or
// it is a public unicast address (see the package documentation for the exact rules).
// The invalid zero Addr is not allowed.
func (g *Guard) Allowed(ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	// The zone ("fe80::1%eth0") does not change what the address is; mapped addresses
	// are dialled as the IPv4 address they carry, so they are judged as it.
	ip = ip.WithZone("").Unmap()
	if g != nil && containedIn(g.allowed, ip) {
		return true
	}
	if ip.Is4() {
		return !containedIn(blockedV4, ip)
	}
	b := ip.As16()
	switch {
	case nat64.Contains(ip):
		return g.Allowed(netip.AddrFrom4([4]byte(b[12:16])))
	case sixToFour.Contains(ip):
		return g.Allowed(netip.AddrFrom4([4]byte(b[2:6])))
	}
	return globalV6.Contains(ip) && !containedIn(blockedV6, ip)
}

// control is the dialer's Control function: it runs once per candidate address, after
// resolution and before connect(2), so what is checked is exactly what is connected to.
func (g *Guard) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("netguard: %w: %q is not an IP address and port", ErrBlocked, address)
	}
	if !g.Allowed(ap.Addr()) {
		return fmt.Errorf("netguard: %w: %s is not a public address and not in the allowed networks", ErrBlocked, ap.Addr())
	}
	return nil
}

// DialContext connects like net.Dialer.DialContext — resolving addr's host and trying
// its addresses in turn — but refuses, at connect time, every candidate address Allowed
// rejects; the error then wraps ErrBlocked and names the address. Only TCP is supported.
// Timeouts come from ctx.
func (g *Guard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		// Unix sockets and UDP would never reach the IP check in a useful way.
		return nil, fmt.Errorf("netguard: %w: network %q is not tcp", ErrBlocked, network)
	}
	d := net.Dialer{Control: g.control}
	return d.DialContext(ctx, network, addr)
}

// maxResponseHeaderBytes bounds the response headers an endpoint may send back; the
// body is the caller's to bound.
const maxResponseHeaderBytes = 64 << 10

// Client returns an HTTP client for deliveries: it dials through DialContext, uses no
// proxy (the environment's HTTP_PROXY is ignored, since the proxy would be what gets
// checked), follows no redirects (a 3xx comes back as the response) and has no timeout
// of its own — give each request a context with a deadline — and the caller must bound
// how much of a response body it reads. All clients of one Guard share one connection
// pool; CloseIdleConnections on any of them closes its idle connections.
func (g *Guard) Client() *http.Client {
	g.once.Do(func() { g.transport = g.newTransport(nil) })
	return g.client(g.transport)
}

// ClientTLS is Client with a connection pool of its own whose handshakes use tc (a
// private CA, a client certificate: an integration's `tls { … }`); it dials through
// DialContext all the same, so the address checks and allowed networks hold.
func (g *Guard) ClientTLS(tc *tls.Config) *http.Client {
	return g.client(g.newTransport(tc))
}

func (g *Guard) newTransport(tc *tls.Config) *http.Transport {
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            g.DialContext,
		TLSClientConfig:        tc,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        90 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: maxResponseHeaderBytes,
		// Deliveries only look at the first bytes of an answer; without compression
		// the caller's bound applies to the bytes received, and a small gzip bomb
		// costs nothing to decompress.
		DisableCompression: true,
	}
}

func (g *Guard) client(t *http.Transport) *http.Client {
	return &http.Client{
		Transport: t,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// CheckURL vets an endpoint URL when it is created or changed: it must be absolute http
// or https with a host (and a valid port, if any) and no user information. Errors never
// repeat the URL, which may hold credentials. Where the host points is checked at
// connect time, by the Guard.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the whole URL
		}
		return fmt.Errorf("netguard: URL does not parse: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("netguard: URL scheme must be http or https")
	}
	if u.User != nil {
		return errors.New("netguard: URL must not contain user information (user:password@)")
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return errors.New("netguard: URL has no host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return errors.New("netguard: URL port must be 1 to 65535")
		}
	}
	return nil
}
