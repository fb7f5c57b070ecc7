package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/junctionhq/junction/internal/plugin/plugintest"
	"github.com/junctionhq/junction/internal/servicetest"
)

// pluginConfig uses two plugins that are not declared, only registered: the example
// transform as a flow step, the example action (http and env capabilities) as a
// workflow step.
const pluginConfig = `integration Receiver {
    base_url: env(RECEIVER_URL)
    operation store { method: POST  path: "/orders"  body: { id: string, email: string, total: decimal, item_count: integer } }
}
connector inbox { type: http }
connector receiver { type: integration }
flow orders {
    source: inbox { path: "orders" }
    step normalize { plugin: orders.normalize }
    sink out {
        connector: receiver
        integration: Receiver
        operation: store
        params: { id: "$.id", email: "$.email", total: "$.total", item_count: "$.item_count" }
    }
    on_error: retry 3 times with constant_backoff(100ms)
}
on "order.created" do plugin "notifier.notify"
workflow announce {
    steps {
        notify { plugin: "notifier.notify"  input: { text: "{{input.text}}" } }
        slug { transform: { slug: "=plugin.orders.slug(input.text + ' World')" } }
    }
}
`

// TestPluginsEndToEnd: on SQLite and on PostgreSQL, serve says which flow uses a plugin
// that is not registered; plugins registered with the CLI run as a flow step, as a
// workflow step and as an event handler's action (reaching a local receiver through the
// http capability), show their calls in status, and are still there after a restart;
// unregister removes one.
func TestPluginsEndToEnd(t *testing.T) {
	t.Parallel()
	transform := plugintest.File(t, "../../examples/plugins/transform")
	action := plugintest.File(t, "../../examples/plugins/action")
	t.Run("sqlite", func(t *testing.T) { t.Parallel(); pluginsEndToEnd(t, nil, transform, action) })
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		pluginsEndToEnd(t, []string{"DATABASE_URL=" + servicetest.PostgresDSN(t)}, transform, action)
	})
}

func pluginsEndToEnd(t *testing.T, env []string, transform, action string) {
	rcv := newBodyReceiver(t)
	u, _ := url.Parse(rcv.URL)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "plugins.cai")
	writeFile(t, cfg, pluginConfig)
	manifest := filepath.Join(dir, "notifier.json")
	writeFile(t, manifest, fmt.Sprintf(`{"name":"notifier","version":"1.0.0","functions":["notify"],
  "capabilities":{"http":{"allowed_hosts":[%q]},"env":["NOTIFY_URL"]},"limits":{"timeout":"5s"}}`, u.Host))
	env = append(env, "RECEIVER_URL="+rcv.URL, "NOTIFY_URL="+rcv.URL+"/notify")
	token := adminToken(t, dir, env)
	s := startServer(t, dir, env, "-c", cfg)
	cli := func(args ...string) string {
		t.Helper()
		out, errOut, code := run(t, dir, env, append(append([]string{"plugin"}, args...), "--server", s.base, "--token", token)...)
		if code != 0 {
			t.Fatalf("junction plugin %v: exit %d\n%s%s\n%s", args, code, out, errOut, s.log())
		}
		return out
	}
	if log := s.log(); !strings.Contains(log, `a plugin in use is not registered`) || !strings.Contains(log, `use="flow orders step normalize" plugin=orders`) {
		t.Errorf("serve did not say which flow uses a plugin not registered:\n%s", log)
	}

	examples, _ := filepath.Abs("../../examples/plugins/transform/manifest.json")
	if out := cli("register", transform, "--manifest", examples); !strings.Contains(out, "plugin orders 1.0.0 registered: normalize, slug") {
		t.Errorf("register orders: %s", out)
	}
	cli("register", action, "--manifest", manifest)
	// A module that does not provide its manifest's functions is refused, saying why.
	out, errOut, code := run(t, dir, env, "plugin", "register", transform, "--manifest", manifest, "--server", s.base, "--token", token)
	if code != 1 || !strings.Contains(errOut, "the manifest lists notify, which the module does not provide (it provides normalize, slug)") {
		t.Errorf("register with a manifest that does not match: exit %d\n%s%s", code, out, errOut)
	}
	if out := cli("list"); !strings.Contains(out, "orders") || !strings.Contains(out, "notifier") || strings.Count(out, "loaded") != 2 {
		t.Errorf("plugin list:\n%s", out)
	}

	a := api{t: t, base: s.base, token: token}
	order := func(id string) {
		eventually(t, "the flow to run", func() bool { return a.expect(200, "GET", "/flows/orders", nil)["state"] == "running" })
		a.expect(202, "POST", "/in/orders", map[string]any{"orderId": id, "customerEmail": "a@example.com", "orderItems": []any{1, 2, 3}, "orderTotal": 12.5})
		eventually(t, "order "+id+" at the receiver", func() bool { return rcv.has("/orders", `"id":"`+id+`"`) })
	}
	order("o-1")
	if got := rcv.last("/orders"); !strings.Contains(got, `"item_count":3`) || !strings.Contains(got, `"email":"a@example.com"`) {
		t.Errorf("the flow's plugin step made %s", got)
	}
	out, errOut, code = run(t, dir, env, "workflow", "run", "announce", "text=hello", "--server", s.base, "--token", token)
	if code != 0 || !strings.Contains(out, ": completed") || !strings.Contains(out, `"status": 200`) || !strings.Contains(out, `"slug": "hello-world"`) {
		t.Fatalf("workflow run announce: exit %d\n%s%s\n%s", code, out, errOut, s.log())
	}
	if got := rcv.last("/notify"); got != `{"text":"hello"}` {
		t.Errorf("the notifier posted %q", got)
	}
	// As an event handler's action: the event's data goes to the plugin.
	a.expect(202, "POST", "/events", map[string]any{"type": "order.created", "data": map[string]any{"order_id": "o-1"}})
	eventually(t, "the handler's plugin to post the event", func() bool { return rcv.has("/notify", `{"order_id":"o-1"}`) })
	if out := cli("status", "orders"); !strings.Contains(out, "plugin orders 1.0.0 (api): loaded") || !strings.Contains(out, "calls: 2  errors: 0") {
		t.Errorf("plugin status orders:\n%s", out)
	}
	// The same calls on /metrics (the serve process's plugin manager has the series).
	_, metrics := s.get(t, "/metrics", "")
	for _, want := range []string{
		`junction_plugin_calls_total{function="normalize",outcome="ok",plugin="orders"} 1`,
		`junction_plugin_calls_total{function="slug",outcome="ok",plugin="orders"} 1`,
		`junction_plugin_call_duration_seconds_count{function="slug",plugin="orders"} 1`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// Restart: the registered plugins are loaded from the store before the flow starts.
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d:\n%s", code, s.log())
	}
	s = startServer(t, dir, env, "-c", cfg)
	a.base = s.base
	if strings.Contains(s.log(), "a plugin in use is not registered") {
		t.Errorf("after the restart serve says a plugin is missing:\n%s", s.log())
	}
	order("o-2")
	var got map[string]any
	if err := json.Unmarshal([]byte(cli("get", "notifier")), &got); err != nil || got["loaded"] != true || got["source"] != "api" {
		t.Errorf("plugin get notifier after the restart: %v %v", got, err)
	}
	cli("unregister", "notifier")
	a.expect(404, "GET", "/plugins/notifier", nil)
	if out := cli("list"); strings.Contains(out, "notifier") {
		t.Errorf("plugin list after unregister:\n%s", out)
	}
}

// bodyReceiver records the bodies POSTed to it, by path.
type bodyReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	bodies map[string][]string
}

func newBodyReceiver(t *testing.T) *bodyReceiver {
	r := &bodyReceiver{bodies: map[string][]string{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies[req.URL.Path] = append(r.bodies[req.URL.Path], string(b))
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"ok":true}`)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *bodyReceiver) has(path, part string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range r.bodies[path] {
		if strings.Contains(b, part) {
			return true
		}
	}
	return false
}

func (r *bodyReceiver) last(path string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if l := r.bodies[path]; len(l) > 0 {
		return l[len(l)-1]
	}
	return ""
}
