package netguard

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// Resolver looks up a host's addresses; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// RefusedError says that every address of a URL's host is one the Guard refuses, so
// every delivery to it would fail. It wraps ErrBlocked.
type RefusedError struct {
	Host     string       // as written in the URL
	Addrs    []netip.Addr // the addresses refused
	Resolved bool         // Host is a name whose addresses were looked up
}

func (e *RefusedError) Error() string {
	if !e.Resolved {
		return fmt.Sprintf("%s is not a public address and no allowed_networks entry covers it", e.Host)
	}
	addrs := make([]string, len(e.Addrs))
	for i, a := range e.Addrs {
		addrs[i] = a.String()
	}
	return fmt.Sprintf("%s resolves only to %s: not public addresses, and no allowed_networks entry covers them", e.Host, strings.Join(addrs, ", "))
}

func (e *RefusedError) Unwrap() error { return ErrBlocked }

// CheckDestination tells, when an endpoint is registered, whether the Guard would refuse
// every address of the host of raw (a URL CheckURL accepted): a literal IP address,
// localhost (and names under .localhost, which always mean loopback, RFC 6761), or a
// name r resolves (nil: net.DefaultResolver) within ctx. It returns a *RefusedError
// then, and nil when some address is allowed or when the name does not resolve: the
// delivery will report that. Deliveries are still checked when they connect, since a
// name may resolve elsewhere by then.
func (g *Guard) CheckDestination(ctx context.Context, raw string, r Resolver) error {
	u, err := url.Parse(raw)
	if err != nil {
		return nil // CheckURL reports it
	}
	host := u.Hostname()
	addrs, resolved := fixedAddrs(host)
	if addrs == nil {
		if r == nil {
			r = net.DefaultResolver
		}
		if addrs, err = r.LookupNetIP(ctx, "ip", host); err != nil || len(addrs) == 0 {
			return nil
		}
		resolved = true
	}
	for _, a := range addrs {
		if g.Allowed(a) {
			return nil
		}
	}
	return &RefusedError{Host: host, Addrs: addrs, Resolved: resolved}
}

// fixedAddrs returns the addresses of a host that needs no lookup, and whether they
// stand for a name; nil when it needs one.
func fixedAddrs(host string) ([]netip.Addr, bool) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip}, false
	}
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()}, true
	}
	return nil, false
}
