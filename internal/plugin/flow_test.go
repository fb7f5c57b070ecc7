package plugin_test

import (
	"context"

	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/memory"
	"github.com/junctionhq/junction/internal/flow"
	"github.com/junctionhq/junction/internal/plugin"
	"github.com/junctionhq/junction/internal/plugin/plugintest"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/transform"
)

// The example transform plugin, and the same mapping as a built-in transform step.
const (
	examplesDir = "../../examples/plugins/"
	builtinStep = `step normalize { transform: { id: "$.orderId", email: "$.customerEmail", total: "$.orderTotal", item_count: "=len(orderItems)" } }`
	pluginStep  = `step normalize { plugin: orders.normalize }`
)

func loadExample(t testing.TB, m *plugin.Manager, name string) plugin.Manifest {
	t.Helper()
	man := readManifest(t, examplesDir+name+"/manifest.json")
	if err := m.Load(context.Background(), man, plugintest.Module(t, examplesDir+name), plugin.SourceAPI); err != nil {
		t.Fatal(err)
	}
	return man
}

func readManifest(t testing.TB, path string) plugin.Manifest {
	t.Helper()
	b, err := readFile(path)
	if err != nil {
		t.Fatal(err)
	}
	man, err := plugin.ParseManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	return man
}

// flowRig is a flow from a memory source through the given steps into a memory sink.
type flowRig struct {
	engine *flow.Engine
	src    *memory.Source
	sink   *memory.Sink
	dead   *deadLetters
}

func newFlowRig(t testing.TB, plugins flow.Plugins, steps string, size int, retry string) *flowRig {
	t.Helper()
	src := `connector in { type: memory }
connector out { type: memory }
flow orders {
    source: in
    ` + steps + `
    sink out { connector: out }
    max_in_flight: 256
    ` + retry + `
}`
	cfg, diags := config.Decode("flow.cai", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	r := &flowRig{src: memory.NewSource(size), sink: &memory.Sink{Discard: size > 1000}, dead: &deadLetters{}}
	kinds := map[string]connector.Kind{"memory": memory.Kind("memory", map[string]*memory.Source{"in": r.src}, map[string]*memory.Sink{"out": r.sink})}
	e, err := flow.New(cfg, flow.Options{
		Kinds: kinds, DeadLetters: r.dead, Plugins: plugins,
		Env: connector.Env{Logger: slog.New(slog.DiscardHandler), Clock: clock.Real{}},
	})
	if err != nil {
		t.Fatal(err)
	}
	r.engine = e
	return r
}

func order(i int) []byte {
	return fmt.Appendf(nil, `{"orderId":"o-%d","customerId":"c-7","customerEmail":"A%d@Example.com","orderItems":[{"sku":"s1","qty":2},{"sku":"s2","qty":1}],"orderTotal":%d.50}`, i, i, 1000+i)
}

// run puts the messages and waits until all are acknowledged or dead-lettered.
func (r *flowRig) run(t testing.TB, bodies [][]byte) time.Duration {
	t.Helper()
	for _, b := range bodies {
		r.src.Put(connector.Message{Body: b})
	}
	start := time.Now()
	if err := r.engine.Start(); err != nil {
		t.Fatal(err)
	}
	defer r.engine.Close(context.Background())
	deadline := time.Now().Add(60 * time.Second)
	for r.src.Acked.Load() < int64(len(bodies)) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages acknowledged after 60 s", r.src.Acked.Load(), len(bodies))
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(start)
}

// TestFlowPluginStep: a flow step by plugin gives the built-in step's output; an order
// the plugin refuses as permanent is dead-lettered at once, and messages of a plugin
// that is not registered are retried, then dead-lettered; a mapping expression calls a
// plugin function.
func TestFlowPluginStep(t *testing.T) {
	m := newManager(t, nil)
	loadExample(t, m, "transform")
	bodies := [][]byte{order(1), order(2), []byte(`{"customerEmail":"x@example.com"}`)}

	builtin := newFlowRig(t, m, builtinStep, 10, "")
	builtin.run(t, bodies[:2])
	viaPlugin := newFlowRig(t, m, pluginStep, 10, "")
	viaPlugin.run(t, bodies)
	want, got := builtin.sink.Received(), viaPlugin.sink.Received()
	if len(got) != 2 || len(want) != 2 {
		t.Fatalf("delivered %d by plugin, %d built in", len(got), len(want))
	}
	if g, w := bodiesOf(got), bodiesOf(want); !slices.Equal(g, w) {
		t.Errorf("plugin step delivered %q, the built-in step %q", g, w)
	}
	if dl := viaPlugin.dead.list(); len(dl) != 1 || dl[0].Attempts != 1 || !strings.Contains(dl[0].Error, "plugin orders.normalize: the order has no orderId") {
		t.Errorf("dead letters = %+v", dl)
	}

	missing := newFlowRig(t, m, `step s { plugin: absent.f }`, 10, "on_error: retry 2 times with constant_backoff(10ms)")
	missing.run(t, bodies[:1])
	if dl := missing.dead.list(); len(dl) != 1 || dl[0].Attempts != 3 || !strings.Contains(dl[0].Error, "plugin absent.f: no plugin of that name is registered") {
		t.Errorf("dead letters of a missing plugin = %+v", dl)
	}

	mapping := newFlowRig(t, m, `step s { transform: { slug: "=plugin.orders.slug(title)", n: "=plugin.orders.normalize($).item_count + 1" } }`, 10, "")
	mapping.run(t, [][]byte{[]byte(`{"title":"Hello  Plugin World","orderId":"o-9","orderItems":[1,2]}`)})
	if got := mapping.sink.Received(); len(got) != 1 || string(got[0].Body) != `{"n":3,"slug":"hello-plugin-world"}` {
		t.Errorf("mapping with plugin functions = %s", got)
	}
}

func bodiesOf(ms []connector.Message) []string {
	var out []string
	for _, m := range ms {
		doc, err := transform.Decode(m.Body) // members in one order
		if err != nil {
			panic(err)
		}
		b, _ := transform.Encode(doc)
		out = append(out, string(b))
	}
	slices.Sort(out)
	return out
}

// BenchmarkFlowStep runs the same mapping through the flow engine as a built-in
// transform step and as a plugin step, in the same run; msgs/s is the throughput from
// Start to the last acknowledgement.
//
//	go test -run '^$' -bench 'FlowStep|PluginCall' -benchtime 100000x ./internal/plugin/
func BenchmarkFlowStep(b *testing.B) {
	m := newManager(b, nil)
	loadExample(b, m, "transform")
	for _, c := range []struct{ name, step string }{{"builtin", builtinStep}, {"plugin", pluginStep}} {
		b.Run(c.name, func(b *testing.B) {
			bodies := make([][]byte, b.N)
			for i := range bodies {
				bodies[i] = order(i)
			}
			r := newFlowRig(b, m, c.step, b.N, "")
			b.ResetTimer()
			took := r.run(b, bodies)
			b.ReportMetric(float64(b.N)/took.Seconds(), "msgs/s")
			if n := len(r.dead.list()); n > 0 {
				b.Fatalf("%d dead letters: %+v", n, r.dead.list()[0])
			}
		})
	}
}

// BenchmarkPluginCall is the cost of one call from Go bytes to Go bytes, one at a time
// (µs per call = ns/op / 1000): normalize, written with FieldsInto and Object, and slug,
// written with Handle (encoding/json inside the module).
func BenchmarkPluginCall(b *testing.B) {
	m := newManager(b, nil)
	loadExample(b, m, "transform")
	ctx := context.Background()
	for _, c := range []struct{ fn, input string }{{"normalize", string(order(1))}, {"slug", `"Hello Plugin World"`}} {
		b.Run(c.fn, func(b *testing.B) {
			in := []byte(c.input)
			for b.Loop() {
				if _, err := m.Call(ctx, "orders", c.fn, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// deadLetters keeps a flow's dead letters in memory.
type deadLetters struct {
	mu sync.Mutex
	l  []store.FlowDeadLetter
}

func (d *deadLetters) list() []store.FlowDeadLetter {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]store.FlowDeadLetter(nil), d.l...)
}

func (d *deadLetters) FlowDeadLetterAdd(_ context.Context, dl store.FlowDeadLetter) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.l = append(d.l, dl)
	return nil
}

func (d *deadLetters) FlowDeadLetterGet(context.Context, string) (store.FlowDeadLetter, error) {
	return store.FlowDeadLetter{}, store.ErrNotFound
}

func (d *deadLetters) FlowDeadLetterList(context.Context, store.FlowDeadLetterFilter) ([]store.FlowDeadLetter, int, error) {
	l := d.list()
	return l, len(l), nil
}

func (d *deadLetters) FlowDeadLetterDelete(context.Context, string) error { return nil }

func (d *deadLetters) FlowDeadLetterSetAccepted(context.Context, string, [][]string) error {
	return nil
}

func (d *deadLetters) FlowDeadLetterCounts(context.Context) (map[string]int, error) {
	return map[string]int{"orders": len(d.list())}, nil
}

func readFile(path string) ([]byte, error) { return os.ReadFile(path) }
