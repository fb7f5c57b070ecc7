package plugin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/junctionhq/junction/internal/redact"
	"github.com/junctionhq/junction/pkg/pluginkit/abi"
)

// Where a plugin came from.
const (
	SourceAPI    = "api"    // registered through POST /plugins, kept in the store
	SourceConfig = "config" // declared in the configuration (plugin NAME { path: … })
)

// Options configure a Manager.
type Options struct {
	Logger    *slog.Logger
	LookupEnv func(string) (string, bool) // the env capability's variables; os.LookupEnv
	// HTTPClient sends the http capability's requests; nil: a client that follows no
	// redirects.
	HTTPClient *http.Client
	// CompilationCache, if set, is shared with other managers (tests); nil: one of the
	// manager's own, so a plugin loaded again is not compiled again.
	CompilationCache wazero.CompilationCache
	// Metrics, if set, count every call (junction_plugin_*); nil: no series.
	Metrics *Metrics
}

// Manager holds the plugins of a process: it compiles, loads, calls and unloads them
// (the lifecycle install → load → execute → unload). Safe for concurrent use.
type Manager struct {
	host      *hostFuncs
	log       *slog.Logger
	cache     wazero.CompilationCache
	ownsCache bool
	metrics   *Metrics

	mu      sync.RWMutex
	plugins map[string]*Plugin
	failed  map[string]Status // plugins that did not load, with why
	closed  bool
}

// NewManager makes a manager with no plugins.
func NewManager(o Options) *Manager {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.LookupEnv == nil {
		o.LookupEnv = func(string) (string, bool) { return "", false }
	}
	if o.HTTPClient == nil {
		o.HTTPClient = newHTTPClient()
	}
	m := &Manager{
		host:    &hostFuncs{lookupEnv: o.LookupEnv, client: o.HTTPClient, log: o.Logger},
		log:     o.Logger,
		cache:   o.CompilationCache,
		metrics: o.Metrics,
		plugins: map[string]*Plugin{},
		failed:  map[string]Status{},
	}
	if m.cache == nil {
		m.cache, m.ownsCache = wazero.NewCompilationCache(), true
	}
	return m
}

// Sum is the hex SHA-256 of a module, how plugins are told apart.
func Sum(wasm []byte) string {
	s := sha256.Sum256(wasm)
	return hex.EncodeToString(s[:])
}

func (m *Manager) compile(ctx context.Context, man Manifest, wasm []byte, source string) (*Plugin, error) {
	if err := man.Check(); err != nil {
		return nil, fmt.Errorf("plugin %s: manifest: %w", man.Name, err)
	}
	code, err := instrument(wasm)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: the module: %w", man.Name, err)
	}
	p := &Plugin{
		manifest: man, sha256: Sum(wasm), source: source, host: m.host,
		log:     m.log.With("plugin", man.Name),
		secrets: redact.NewScrubber(),
		tokens:  make(chan struct{}, man.Limits.instances()),
		idle:    make(chan *instance, man.Limits.instances()),
	}
	for range man.Limits.instances() {
		p.tokens <- struct{}{}
	}
	for _, name := range man.Capabilities.Env {
		if v, ok := m.host.lookupEnv(name); ok {
			p.secrets.Add(v)
		}
	}
	p.runtime = wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().
		WithCompilationCache(m.cache).
		WithMemoryLimitPages(uint32(man.Limits.memoryMB())*16). // 64 KiB pages
		WithDebugInfoEnabled(false))
	fail := func(err error) (*Plugin, error) {
		p.close(ctx)
		return nil, fmt.Errorf("plugin %s: %w", man.Name, err)
	}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, p.runtime); err != nil {
		return fail(err)
	}
	if err := m.host.define(ctx, p.runtime, p); err != nil {
		return fail(err)
	}
	if p.compiled, err = p.runtime.CompileModule(ctx, code); err != nil {
		return fail(fmt.Errorf("the module does not compile: %w", err))
	}
	if err := p.describe(ctx); err != nil {
		return fail(err)
	}
	return p, nil
}

// describe asks a first instance what the module provides and checks it against the
// manifest; the instance stays in the pool.
func (p *Plugin) describe(ctx context.Context) error {
	in, err := p.acquire(ctx)
	if err != nil {
		return err
	}
	defer p.release(in)
	version := in.mod.ExportedFunction(abi.ExportVersion)
	describe := in.mod.ExportedFunction(abi.ExportDescribe)
	if version == nil || describe == nil {
		return errors.New("the module is not a Junction plugin: build it with the plugin kit (pkg/pluginkit)")
	}
	if r, err := version.Call(ctx); err != nil || r[0] != abi.Version {
		return fmt.Errorf("the module was built for another version of the plugin interface (%v), this Junction speaks %d: rebuild it with this version's plugin kit", r, abi.Version)
	}
	out, _, err := in.run(ctx, p.manifest.Limits.timeout(), func(ctx context.Context) (uint64, error) {
		r, err := describe.Call(ctx)
		if err != nil {
			return 0, err
		}
		return r[0], nil
	})
	if err != nil {
		return fmt.Errorf("asking the module what it provides: %w", err)
	}
	var d abi.Description
	if err := json.Unmarshal(out, &d); err != nil {
		return fmt.Errorf("the module's description is not valid: %w", err)
	}
	var missing, extra []string
	for _, f := range p.manifest.Functions {
		if !slices.Contains(d.Functions, f) {
			missing = append(missing, f)
		}
	}
	for _, f := range d.Functions {
		if !slices.Contains(p.manifest.Functions, f) {
			extra = append(extra, f)
		}
	}
	switch {
	case len(missing) > 0:
		return fmt.Errorf("the manifest lists %s, which the module does not provide (it provides %s)", strings.Join(missing, ", "), strings.Join(d.Functions, ", "))
	case len(extra) > 0:
		return fmt.Errorf("the module provides %s, which the manifest does not list: list every function in the manifest's functions", strings.Join(extra, ", "))
	}
	p.functions = make(map[string]uint32, len(d.Functions))
	for i, f := range d.Functions {
		p.functions[f] = uint32(i)
	}
	p.hooks = d.Hooks
	return nil
}

// Load compiles the module, checks its dependencies, runs its pre_startup hook and puts
// it in force under its name; a plugin of that name loaded before is unloaded (its
// post_shutdown hook runs) once the new one is in force. A plugin that does not load
// is listed as failed, with why, and the one in force (if any) stays.
func (m *Manager) Load(ctx context.Context, man Manifest, wasm []byte, source string) error {
	err := m.load(ctx, man, wasm, source)
	if err != nil {
		m.mu.Lock()
		if m.plugins[man.Name] == nil {
			m.failed[man.Name] = Status{Name: man.Name, Version: man.Version, Source: source, SHA256: Sum(wasm), Error: err.Error(), Manifest: man}
		}
		m.mu.Unlock()
	}
	return err
}

func (m *Manager) load(ctx context.Context, man Manifest, wasm []byte, source string) error {
	if err := m.checkDependencies(man); err != nil {
		return err
	}
	p, err := m.compile(ctx, man, wasm, source)
	if err != nil {
		return err
	}
	if err := p.runHook(ctx, abi.HookPreStartup); err != nil {
		p.close(ctx)
		return fmt.Errorf("plugin %s: %w", man.Name, err)
	}
	// Only a plugin that loads gets series: one that fails is counted under its name
	// by Call, with no durations.
	p.metrics = m.metrics.forPlugin(man.Name, man.Functions)
	p.loadedAt = time.Now()
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		p.close(ctx)
		return errors.New("plugins are shutting down")
	}
	old := m.plugins[man.Name]
	m.plugins[man.Name] = p
	delete(m.failed, man.Name)
	m.mu.Unlock()
	p.log.Info("plugin loaded", "version", man.Version, "source", source, "functions", strings.Join(man.Functions, ","))
	if old != nil {
		m.shutdown(ctx, old)
	}
	return nil
}

// checkDependencies reports dependencies not loaded in an allowed version.
func (m *Manager) checkDependencies(man Manifest) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var errs []error
	for _, d := range man.Dependencies {
		c, _ := parseConstraint(d.Version)
		dep := m.plugins[d.Name]
		switch {
		case dep == nil:
			errs = append(errs, fmt.Errorf("plugin %s depends on plugin %s %s, which is not loaded", man.Name, d.Name, d.Version))
		case !c.allows(dep.manifest.Version):
			errs = append(errs, fmt.Errorf("plugin %s depends on plugin %s %s, but version %s is loaded", man.Name, d.Name, d.Version, dep.manifest.Version))
		}
	}
	return errors.Join(errs...)
}

// Unload takes the plugin out of force and runs its post_shutdown hook. ErrNotFound
// when no plugin of that name is loaded or failed.
func (m *Manager) Unload(ctx context.Context, name string) error {
	m.mu.Lock()
	p := m.plugins[name]
	_, failed := m.failed[name]
	delete(m.plugins, name)
	delete(m.failed, name)
	m.mu.Unlock()
	if p == nil && !failed {
		return fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	if p != nil {
		m.shutdown(ctx, p)
		p.log.Info("plugin unloaded")
	}
	return nil
}

// shutdown runs the post_shutdown hook and closes the plugin. Calls still running in it
// fail (as unavailable) when it closes.
func (m *Manager) shutdown(ctx context.Context, p *Plugin) {
	if err := p.runHook(ctx, abi.HookPostShutdown); err != nil {
		p.log.Warn("plugin hook failed", "error", err)
	}
	p.close(ctx)
}

// Get returns the plugin in force by name.
func (m *Manager) Get(name string) (*Plugin, bool) {
	m.mu.RLock()
	p, ok := m.plugins[name]
	m.mu.RUnlock()
	return p, ok
}

// Call calls a function of the plugin in force; a plugin that is not loaded is a
// *CallError of kind unavailable naming why. Plugin.Call counts the calls that reach a
// plugin; this counts those that find none, under the plugin's name only when it is
// registered but failed to load (see unregisteredPlugin).
func (m *Manager) Call(ctx context.Context, name, function string, input []byte) ([]byte, error) {
	p, ok := m.Get(name)
	if !ok {
		why := "no plugin of that name is registered"
		plugin, fn := unregisteredPlugin, unknownFunction
		m.mu.RLock()
		if f, failed := m.failed[name]; failed {
			why = "the plugin did not load: " + f.Error
			plugin = name
			if slices.Contains(f.Manifest.Functions, function) {
				fn = function
			}
		}
		m.mu.RUnlock()
		err := &CallError{Plugin: name, Function: function, Kind: KindUnavailable, Msg: why}
		m.metrics.count(plugin, fn, err)
		return nil, err
	}
	return p.Call(ctx, function, input)
}

// Status is a plugin's state in this process.
type Status struct {
	Name     string
	Version  string
	Source   string
	SHA256   string
	Loaded   bool
	Error    string // why it did not load
	LoadedAt time.Time
	// Calls, Errors and MeanMicros count this process's calls since the load.
	Calls, Errors int64
	MeanMicros    float64
	Manifest      Manifest
}

// Status returns a plugin's state; ok is false when the name is neither loaded nor
// failed.
func (m *Manager) Status(name string) (Status, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if p := m.plugins[name]; p != nil {
		return p.status(), true
	}
	s, ok := m.failed[name]
	return s, ok
}

// List returns every plugin's state, by name.
func (m *Manager) List() []Status {
	m.mu.RLock()
	out := make([]Status, 0, len(m.plugins)+len(m.failed))
	for _, p := range m.plugins {
		out = append(out, p.status())
	}
	for _, s := range m.failed {
		out = append(out, s)
	}
	m.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (p *Plugin) status() Status {
	s := Status{Name: p.manifest.Name, Version: p.manifest.Version, Source: p.source, SHA256: p.sha256, Loaded: true,
		LoadedAt: p.loadedAt, Calls: p.calls.Load(), Errors: p.errors.Load(), Manifest: p.manifest}
	if s.Calls > 0 {
		s.MeanMicros = float64(p.nanos.Load()) / float64(s.Calls) / 1000
	}
	return s
}

// Close unloads every plugin (their post_shutdown hooks run, dependants first) and
// refuses further loads.
func (m *Manager) Close(ctx context.Context) {
	m.mu.Lock()
	m.closed = true
	ps := make([]*Plugin, 0, len(m.plugins))
	for _, p := range m.plugins {
		ps = append(ps, p)
	}
	m.plugins = map[string]*Plugin{}
	m.mu.Unlock()
	// Newest first: a plugin loads after its dependencies, so it shuts down before them.
	sort.Slice(ps, func(i, j int) bool { return ps[i].loadedAt.After(ps[j].loadedAt) })
	for _, p := range ps {
		m.shutdown(ctx, p)
	}
	m.host.client.CloseIdleConnections()
	if m.ownsCache {
		_ = m.cache.Close(ctx)
	}
}
