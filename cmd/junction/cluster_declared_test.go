package main

import (
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/servicetest"
)

// TestClusterDeclaredWebhooksOneWriter: in a cluster only the holder of the
// declared-webhooks lease puts the declared webhooks in the store, so a node reloading
// another configuration does not undo the holder's endpoints (and the holder does not
// undo it back); the holder's reload applies at once, and when the holder dies the
// node that takes the lease applies its own configuration.
func TestClusterDeclaredWebhooksOneWriter(t *testing.T) {
	t.Parallel()
	dsn := servicetest.PostgresDSN(t)
	env := []string{"DATABASE_URL=" + dsn, "JUNCTION_LEASE_TTL=2s"}
	dir := t.TempDir()
	conf := func(names ...string) string {
		var b strings.Builder
		b.WriteString(`integration Hooks { type: webhook  allowed_networks: ["127.0.0.0/8"] }` + "\n")
		for _, n := range names {
			b.WriteString("webhook " + n + " {\n    event \"order.created\"\n    url \"http://127.0.0.1:9/" + n + "\"\n}\n")
		}
		return b.String()
	}
	cfgA, cfgB := filepath.Join(dir, "a.cai"), filepath.Join(dir, "b.cai")
	writeFile(t, cfgA, conf("alpha"))
	writeFile(t, cfgB, conf("alpha"))
	token := adminToken(t, dir, env)
	a := startServer(t, dir, append(env, "JUNCTION_NODE_ID=node-a"), "-c", cfgA)
	b := startServer(t, dir, append(env, "JUNCTION_NODE_ID=node-b"), "-c", cfgB)
	apiA, apiB := api{t: t, base: a.base, token: token}, api{t: t, base: b.base, token: token}
	declared := func(x api) []string {
		var names []string
		for n := range declaredByName(x) {
			names = append(names, n)
		}
		slices.Sort(names)
		return names
	}
	holder := func() string {
		_, nodes := clusterOf(t, a, token)
		for id, n := range nodes {
			if slices.Contains(n.Leases, "declared-webhooks") {
				return id
			}
		}
		return ""
	}
	// a started first and took the lease when it started; b found it held.
	waitUntil(t, 30*time.Second, "node-a holding declared-webhooks", func() bool { return holder() == "node-a" })
	if got := declared(apiB); !slices.Equal(got, []string{"alpha"}) {
		t.Fatalf("webhooks = %v, want [alpha]", got)
	}

	reload := func(p *process, cfg, conf string) {
		t.Helper()
		reloads := strings.Count(p.log(), "configuration reloaded")
		writeFile(t, cfg, conf)
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 30*time.Second, "the reload", func() bool {
			return strings.Count(p.log(), "configuration reloaded") > reloads
		})
	}
	// b is not the holder: its reload checks its configuration but writes nothing (each
	// node syncing on its own start would delete alpha and create beta here, and a's
	// next reload would put them back).
	reload(b, cfgB, conf("beta"))
	if got := declared(apiA); !slices.Equal(got, []string{"alpha"}) {
		t.Errorf("after the non-holder's reload: webhooks = %v, want the holder's [alpha]", got)
	}
	// The holder's reload syncs when its new runtime starts.
	reload(a, cfgA, conf("beta", "delta"))
	if got := declared(apiA); !slices.Equal(got, []string{"beta", "delta"}) {
		t.Errorf("after the holder's reload: webhooks = %v, want [beta delta]", got)
	}
	// The holder dies: b takes the lease within its time to live and applies its own
	// configuration.
	if code := a.stop(t, syscall.SIGKILL); code == 0 {
		t.Error("SIGKILL did not kill node-a")
	}
	waitUntil(t, 30*time.Second, "node-b's configuration in force after taking the lease", func() bool {
		return slices.Equal(declared(apiB), []string{"beta"})
	})
}
