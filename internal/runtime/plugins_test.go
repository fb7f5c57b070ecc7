package runtime

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/junctionhq/junction/internal/plugin"
	"github.com/junctionhq/junction/internal/plugin/plugintest"
)

// TestDeclaredPlugins: a plugin block loads when the runtime starts (not in Build); an
// unreadable module is refused by Build at the block's position; a reload without the
// block unloads it.
func TestDeclaredPlugins(t *testing.T) {
	module := plugintest.File(t, "../../examples/plugins/transform")
	deps := testDeps(t)
	deps.Plugins = plugin.NewManager(plugin.Options{CompilationCache: plugintest.Cache()})
	defer deps.Plugins.Close(context.Background())
	block := func(path string) string {
		return fmt.Sprintf(`plugin orders {
    path: %q
    version: "1.0.0"
    functions: [normalize, slug]
}`, path)
	}
	if _, err := Build(decode(t, block("/nonexistent/orders.wasm")), deps, nil); err == nil || !strings.Contains(err.Error(), "t.cai:1:1: plugin orders: open /nonexistent/orders.wasm") {
		t.Fatalf("Build with a missing module: %v", err)
	}
	if _, err := Build(decode(t, block(module)), deps, nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := deps.Plugins.Get("orders"); ok {
		t.Fatal("Build loaded the plugin; only a start may")
	}
	h, err := Start(t.Context(), decode(t, block(module)), deps)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Stop(context.Background())
	if s, ok := deps.Plugins.Status("orders"); !ok || !s.Loaded || s.Source != plugin.SourceConfig {
		t.Fatalf("after the start: %+v", s)
	}
	out, err := deps.Plugins.Call(context.Background(), "orders", "slug", []byte(`"Hello World"`))
	if err != nil || string(out) != `"hello-world"` {
		t.Errorf("slug = %s, %v", out, err)
	}
	if err := h.Reload(context.Background(), decode(t, `event x {}`)); err != nil {
		t.Fatal(err)
	}
	if _, ok := deps.Plugins.Status("orders"); ok {
		t.Error("the plugin is still loaded after a reload without its block")
	}
}
