package webhook

import (
	"errors"
	"net/http"
	"testing"

	"github.com/junctionhq/junction/internal/netguard"
)

// TestKeepConnections: the delivery client keeps an idle connection per attempt that
// may run to one receiver (without, most attempts beyond the guard's 4 dialed anew),
// on a clone of the guard's transport that still dials through the guard.
func TestKeepConnections(t *testing.T) {
	guard, err := netguard.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	base := guard.Client()
	baseTransport := base.Transport.(*http.Transport)
	for _, tc := range []struct {
		workers, perEndpoint, wantPerHost int
	}{
		{64, 16, 16},
		{8, 0, 8},  // no per-endpoint bound: every worker may go to one receiver
		{8, 32, 8}, // never more than the workers
		{16, 2, baseTransport.MaxIdleConnsPerHost},
	} {
		c := keepConnections(base, Settings{Workers: tc.workers, PerEndpointConcurrency: tc.perEndpoint})
		tr := c.Transport.(*http.Transport)
		if tr.MaxIdleConnsPerHost != tc.wantPerHost {
			t.Errorf("workers %d, per endpoint %d: %d idle connections a host, want %d", tc.workers, tc.perEndpoint, tr.MaxIdleConnsPerHost, tc.wantPerHost)
		}
		if tr.MaxIdleConns < tc.wantPerHost {
			t.Errorf("workers %d: %d idle connections in all, fewer than a host's %d", tc.workers, tr.MaxIdleConns, tc.wantPerHost)
		}
		if tr.DialContext == nil || c.CheckRedirect == nil {
			t.Errorf("workers %d: the guard's dialer or redirect policy was lost", tc.workers)
		}
	}
	if baseTransport.MaxIdleConnsPerHost != 4 {
		t.Errorf("the guard's shared transport was changed: %d idle connections a host", baseTransport.MaxIdleConnsPerHost)
	}
	// Still guarded: a loopback address, not allowed, is refused.
	c := keepConnections(base, Settings{Workers: 64, PerEndpointConcurrency: 16})
	if _, err := c.Get("http://127.0.0.1:1/"); !errors.Is(err, netguard.ErrBlocked) {
		t.Errorf("a request to loopback through the kept client: %v, want the guard's refusal", err)
	}
}
