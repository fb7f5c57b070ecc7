package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/store"
)

func runPlugin(t *testing.T, migrated func(*testing.T) store.Store) {
	t.Run("PluginPutGetListDelete", func(t *testing.T) { testPluginPutGetListDelete(t, migrated(t)) })
}

func testPluginPutGetListDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	module := bytes.Repeat([]byte{0, 'a', 's', 'm', 0xff}, 1000)
	p := store.Plugin{Name: "text", Manifest: []byte(`{"name":"text"}`), Module: module, SHA256: "abc", CreatedAt: t0, UpdatedAt: t0}
	if err := s.PluginPut(ctx, p); err != nil {
		t.Fatalf("PluginPut: %v", err)
	}
	got, err := s.PluginGet(ctx, "text")
	if err != nil || got.Name != "text" || !bytes.Equal(got.Module, module) || string(got.Manifest) != `{"name":"text"}` ||
		got.SHA256 != "abc" || !got.CreatedAt.Equal(t0) || !got.UpdatedAt.Equal(t0) {
		t.Fatalf("PluginGet = %+v, %v", got, err)
	}
	// Put again: replaced, CreatedAt kept.
	later := t0.Add(time.Hour)
	p2 := store.Plugin{Name: "text", Manifest: []byte(`{"name":"text","v":2}`), Module: []byte("v2"), SHA256: "def", CreatedAt: later, UpdatedAt: later}
	if err := s.PluginPut(ctx, p2); err != nil {
		t.Fatalf("PluginPut again: %v", err)
	}
	if err := s.PluginPut(ctx, store.Plugin{Name: "another", Manifest: []byte("{}"), Module: []byte("m"), SHA256: "x", CreatedAt: t0, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	list, err := s.PluginList(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "another" || list[1].Name != "text" || list[1].SHA256 != "def" ||
		list[1].Module != nil || !list[1].CreatedAt.Equal(t0) || !list[1].UpdatedAt.Equal(later) {
		t.Fatalf("PluginList = %+v, %v", list, err)
	}
	if err := s.PluginPut(ctx, store.Plugin{Name: "bad"}); err == nil {
		t.Error("PluginPut of an empty plugin succeeded")
	}
	if err := s.PluginDelete(ctx, "text"); err != nil {
		t.Fatalf("PluginDelete: %v", err)
	}
	if err := s.PluginDelete(ctx, "text"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PluginDelete twice: %v, want ErrNotFound", err)
	}
	if _, err := s.PluginGet(ctx, "text"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PluginGet after delete: %v, want ErrNotFound", err)
	}
}
