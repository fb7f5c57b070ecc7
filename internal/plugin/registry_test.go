package plugin_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/junctionhq/junction/internal/errkind"
	"github.com/junctionhq/junction/internal/plugin"
	"github.com/junctionhq/junction/internal/plugin/plugintest"
	"github.com/junctionhq/junction/internal/store/sqlite"
)

// TestRegistryNodes: two nodes share a store. What one registers, replaces or
// unregisters, the other loads, reloads or unloads at its next synchronisation; a
// refused registration stores nothing; a declared name cannot be registered.
func TestRegistryNodes(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "j.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	a, b := newManager(t, nil), newManager(t, nil)
	ra, rb := plugin.NewRegistry(a, st, quietLog()), plugin.NewRegistry(b, st, quietLog())
	module := plugintest.Module(t, examplesDir+"transform")
	manifest, _ := readFile(examplesDir + "transform/manifest.json")

	s, err := ra.Register(ctx, manifest, module)
	if err != nil || !s.Loaded || s.Source != plugin.SourceAPI {
		t.Fatalf("Register = %+v, %v", s, err)
	}
	if err := rb.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if out, err := b.Call(ctx, "orders", "slug", []byte(`"A B"`)); err != nil || string(out) != `"a-b"` {
		t.Fatalf("node b after its sync: %s, %v", out, err)
	}

	// Replaced with another version: b reloads it.
	v2 := strings.Replace(string(manifest), `"version": "1.0.0"`, `"version": "1.1.0"`, 1)
	if _, err := ra.Register(ctx, []byte(v2), module); err != nil {
		t.Fatal(err)
	}
	if err := rb.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if s, _ := b.Status("orders"); s.Version != "1.1.0" {
		t.Errorf("node b's version after the replacement: %+v", s)
	}

	// A module that does not match its manifest is refused and stores nothing.
	bad := strings.Replace(string(manifest), `"name": "orders"`, `"name": "broken"`, 1)
	bad = strings.Replace(bad, `"normalize", "slug"`, `"normalize"`, 1)
	var invalid *plugin.InvalidError
	if _, err := ra.Register(ctx, []byte(bad), module); !errors.As(err, &invalid) || !strings.Contains(err.Error(), "which the manifest does not list") {
		t.Errorf("a mismatched manifest: %v", err)
	}
	if list, _ := st.PluginList(ctx); len(list) != 1 {
		t.Errorf("stored after a refusal: %+v", list)
	}
	if _, ok := a.Status("broken"); ok {
		t.Error("a refused plugin is listed")
	}

	ra.SetDeclared(func(name string) bool { return name == "orders" })
	if _, err := ra.Register(ctx, manifest, module); !errors.Is(err, errkind.ErrConflict) {
		t.Errorf("registering a declared name: %v", err)
	}
	ra.SetDeclared(func(string) bool { return false })

	if err := ra.Unregister(ctx, "orders"); err != nil {
		t.Fatal(err)
	}
	if err := ra.Unregister(ctx, "orders"); !errors.Is(err, plugin.ErrNotFound) {
		t.Errorf("unregistering twice: %v", err)
	}
	if err := rb.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Get("orders"); ok {
		t.Error("node b still has the plugin after it was unregistered")
	}
}
