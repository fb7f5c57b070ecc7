package netguard_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/junctionhq/junction/internal/netguard"
)

// names resolves the names it knows; others do not resolve.
type names map[string][]netip.Addr

func (n names) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if addrs, ok := n[host]; ok {
		return addrs, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func TestCheckDestination(t *testing.T) {
	r := names{
		"loop.test":   {netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")},
		"mixed.test":  {netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("93.184.215.14")},
		"public.test": {netip.MustParseAddr("2606:2800:21f:cb07:6820:80da:af6b:8b2c")},
	}
	none, _ := netguard.New(nil)
	loopback4, _ := netguard.New([]string{"127.0.0.0/8"})
	for _, tc := range []struct {
		guard   *netguard.Guard
		url     string
		refused bool
	}{
		{none, "http://127.0.0.1:9099/hook", true},
		{none, "http://[::1]/hook", true},
		{none, "http://[::ffff:169.254.169.254]/", true},
		{none, "http://localhost:9099/hook", true},
		{none, "http://LocalHost./hook", true},
		{none, "http://app.localhost/hook", true},
		{none, "http://loop.test/hook", true},
		{none, "http://mixed.test/hook", false},        // one address is public
		{none, "http://public.test/hook", false},       // public IPv6
		{none, "http://unresolvable.test/hook", false}, // the delivery will say why
		{none, "https://93.184.215.14/hook", false},
		{loopback4, "http://127.0.0.1:9099/hook", false},
		{loopback4, "http://localhost:9099/hook", false}, // 127.0.0.1 is allowed, ::1 is not
		{loopback4, "http://loop.test/hook", false},
		{loopback4, "http://[::1]/hook", true},
		{loopback4, "http://10.0.0.1/", true},
	} {
		err := tc.guard.CheckDestination(context.Background(), tc.url, r)
		var refused *netguard.RefusedError
		if got := errors.As(err, &refused); got != tc.refused || got && !errors.Is(err, netguard.ErrBlocked) {
			t.Errorf("%s: %v, want refused %v", tc.url, err, tc.refused)
		}
	}
}
