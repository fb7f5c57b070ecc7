package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/junctionhq/junction/internal/errkind"
	"github.com/junctionhq/junction/internal/store"
)

// Registry keeps the plugins registered through the API: in the store, so they survive
// a restart and reach every node, and in force in this process's Manager. Each node
// polls the store (Run) and loads what another node registered, unloads what it
// unregistered, and reloads what it replaced.
type Registry struct {
	manager *Manager
	store   store.PluginStore
	log     *slog.Logger
	now     func() time.Time
	// declared says whether the configuration in force declares a plugin of that name:
	// the configuration's plugin wins, and the API refuses the name.
	declared func(name string) bool

	sync sync.Mutex // one synchronisation (or registration) at a time
	// warned holds what was said once: stored plugins shadowed by a declaration, load
	// failures.
	warned map[string]bool
}

// SyncInterval is how often a node looks for plugins registered or removed by others.
const SyncInterval = 5 * time.Second

// NewRegistry makes a registry over the manager and the store.
func NewRegistry(m *Manager, st store.PluginStore, log *slog.Logger) *Registry {
	return &Registry{manager: m, store: st, log: log, now: time.Now, declared: func(string) bool { return false }, warned: map[string]bool{}}
}

// SetDeclared tells the registry which plugin names the configuration in force
// declares.
func (r *Registry) SetDeclared(declared func(name string) bool) { r.declared = declared }

// InvalidError is a registration refused for what it holds: a manifest that is not
// valid, a module that is not a plugin or does not match its manifest.
type InvalidError struct{ Err error }

func (e *InvalidError) Error() string { return e.Err.Error() }
func (e *InvalidError) Unwrap() error { return e.Err }

// Register checks and loads the plugin, then stores it; it replaces a plugin of that
// name registered before (the old one unloads once the new one is in force).
func (r *Registry) Register(ctx context.Context, manifest []byte, module []byte) (Status, error) {
	man, err := ParseManifest(manifest)
	if err != nil {
		return Status{}, &InvalidError{err}
	}
	if r.declared(man.Name) {
		return Status{}, fmt.Errorf("plugin %s is declared in the configuration; change it there: %w", man.Name, errkind.ErrConflict)
	}
	if s, ok := r.manager.Status(man.Name); ok && s.Source == SourceConfig {
		return Status{}, fmt.Errorf("plugin %s is declared in the configuration; change it there: %w", man.Name, errkind.ErrConflict)
	}
	r.sync.Lock()
	defer r.sync.Unlock()
	if err := r.manager.Load(ctx, man, module, SourceAPI); err != nil {
		if _, loaded := r.manager.Get(man.Name); !loaded {
			_ = r.manager.Unload(ctx, man.Name) // not listed as failed: it was never registered
		}
		return Status{}, &InvalidError{err}
	}
	canonical, _ := json.Marshal(man)
	now := r.now().UTC()
	created := now
	if old, err := r.store.PluginGet(ctx, man.Name); err == nil {
		created = old.CreatedAt
	}
	if err := r.store.PluginPut(ctx, store.Plugin{Name: man.Name, Manifest: canonical, Module: module, SHA256: Sum(module), CreatedAt: created, UpdatedAt: now}); err != nil {
		_ = r.manager.Unload(ctx, man.Name)
		return Status{}, err
	}
	s, _ := r.manager.Status(man.Name)
	return s, nil
}

// Unregister removes a registered plugin from the store and unloads it.
func (r *Registry) Unregister(ctx context.Context, name string) error {
	if s, ok := r.manager.Status(name); ok && s.Source == SourceConfig {
		return fmt.Errorf("plugin %s is declared in the configuration; remove it there: %w", name, errkind.ErrConflict)
	}
	r.sync.Lock()
	defer r.sync.Unlock()
	if err := r.store.PluginDelete(ctx, name); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: %q", ErrNotFound, name)
		}
		return err
	}
	if err := r.manager.Unload(ctx, name); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	return nil
}

// Sync makes the loaded API plugins agree with the store: it loads what is new or
// changed (in dependency order) and unloads what is gone. A plugin that does not load
// is listed as failed, with why, and logged; the others load.
func (r *Registry) Sync(ctx context.Context) error {
	r.sync.Lock()
	defer r.sync.Unlock()
	stored, err := r.store.PluginList(ctx)
	if err != nil {
		return err
	}
	inStore := map[string]bool{}
	var pending []store.Plugin
	for _, p := range stored {
		inStore[p.Name] = true
		if r.declared(p.Name) {
			if !r.warned[p.Name] {
				r.warned[p.Name] = true
				r.log.Warn("a registered plugin has the name of one the configuration declares: the declared one is in force", "plugin", p.Name)
			}
			continue
		}
		if s, ok := r.manager.Status(p.Name); ok && s.Loaded && s.Source == SourceAPI && s.SHA256 == p.SHA256 && sameJSON(s.Manifest, p.Manifest) {
			continue // in force as stored
		}
		pending = append(pending, p)
	}
	for _, s := range r.manager.List() {
		if s.Source == SourceAPI && !inStore[s.Name] {
			_ = r.manager.Unload(ctx, s.Name)
		}
	}
	// Dependencies first: load what can load, again, until nothing more does.
	for len(pending) > 0 {
		var next []store.Plugin
		var errs []error
		for _, p := range pending {
			if err := r.load(ctx, p); err != nil {
				next = append(next, p)
				errs = append(errs, err)
			}
		}
		if len(next) == len(pending) {
			for _, err := range errs {
				if !r.warned[err.Error()] { // said once, not at every synchronisation
					r.warned[err.Error()] = true
					r.log.Error("a registered plugin did not load", "error", err)
				}
			}
			return errors.Join(errs...)
		}
		pending = next
	}
	return nil
}

func (r *Registry) load(ctx context.Context, p store.Plugin) error {
	full, err := r.store.PluginGet(ctx, p.Name)
	if err != nil {
		return err
	}
	man, err := ParseManifest(full.Manifest)
	if err != nil {
		return fmt.Errorf("plugin %s: %w", p.Name, err)
	}
	return r.manager.Load(ctx, man, full.Module, SourceAPI)
}

// Run synchronises every interval until ctx ends; a failed synchronisation is logged
// and tried again at the next.
func (r *Registry) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := r.Sync(ctx); err != nil && ctx.Err() == nil {
				r.log.Debug("plugin synchronisation", "error", err)
			}
		}
	}
}

// List returns every plugin of this process.
func (r *Registry) List() []Status { return r.manager.List() }

// Status returns one plugin's state.
func (r *Registry) Status(name string) (Status, bool) { return r.manager.Status(name) }

// sameJSON reports whether the manifest in force is the one stored (Register stores the
// manifest as it marshals).
func sameJSON(m Manifest, stored []byte) bool {
	b, err := json.Marshal(m)
	return err == nil && string(b) == string(stored)
}
