package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/plugin"
)

// declaredPlugin is a `plugin NAME { … }` block with its module, read by Build.
type declaredPlugin struct {
	manifest plugin.Manifest
	wasm     []byte
	pos      config.Pos
}

// readPlugins reads the modules of the declared plugins and makes their manifests; an
// unreadable module or an invalid manifest is an error at the block's position.
func readPlugins(cfg *config.Config) ([]declaredPlugin, error) {
	var out []declaredPlugin
	var errs []error
	for _, p := range cfg.Plugins {
		m := ManifestOf(p)
		if err := m.Check(); err != nil {
			errs = append(errs, fmt.Errorf("%s: plugin %s: %w", p.Pos, p.Name, err))
			continue
		}
		wasm, err := os.ReadFile(p.Path)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: plugin %s: %w", p.Pos, p.Name, err))
			continue
		}
		out = append(out, declaredPlugin{manifest: m, wasm: wasm, pos: p.Pos})
	}
	return out, errors.Join(errs...)
}

// CheckPlugins checks the declared plugins as Build reads them (each module readable,
// each manifest valid), for `junction validate`; loading them is serve's.
func CheckPlugins(cfg *config.Config) error {
	_, err := readPlugins(cfg)
	return err
}

// ManifestOf is the manifest a `plugin NAME { … }` block writes.
func ManifestOf(p *config.Plugin) plugin.Manifest {
	m := plugin.Manifest{
		Name: p.Name, Version: p.Version, Description: p.Description, Author: p.Author, License: p.License,
		Functions:    p.Functions,
		Capabilities: plugin.Capabilities{Env: p.Env},
		Limits:       plugin.Limits{MemoryMB: p.MemoryMB, Timeout: plugin.Duration(p.Timeout), Instances: p.Instances},
	}
	if p.HTTPHosts != nil {
		m.Capabilities.HTTP = &plugin.HTTPCapability{AllowedHosts: p.HTTPHosts}
	}
	for _, d := range p.Dependencies {
		m.Dependencies = append(m.Dependencies, plugin.Dependency{Name: d.Name, Version: d.Version})
	}
	return m
}

// declaredPlugins loads the configuration's plugins when the runtime starts (a start step,
// since loading runs their pre_startup hooks), in the order of their dependencies, and
// unloads the plugins an earlier configuration declared that this one does not. A
// declared plugin that does not load fails the start. Then it says, for every use of a
// plugin that is not loaded, which flow, workflow or handler will fail.
type declaredPlugins struct {
	manager *plugin.Manager
	plugins []declaredPlugin
	refs    []config.PluginRef
	log     *slog.Logger
}

func (c declaredPlugins) Start(ctx context.Context) error {
	declared := map[string]bool{}
	for _, p := range c.plugins {
		declared[p.manifest.Name] = true
	}
	for _, s := range c.manager.List() {
		if s.Source == plugin.SourceConfig && !declared[s.Name] {
			_ = c.manager.Unload(ctx, s.Name)
		}
	}
	pending := c.plugins
	for len(pending) > 0 {
		var next []declaredPlugin
		var errs []error
		for _, p := range pending {
			if s, ok := c.manager.Status(p.manifest.Name); ok && s.Loaded && s.Source == plugin.SourceConfig && s.SHA256 == plugin.Sum(p.wasm) && sameManifest(s.Manifest, p.manifest) {
				continue // loaded by the configuration in force: keep it (and its counters)
			}
			if err := c.manager.Load(ctx, p.manifest, p.wasm, plugin.SourceConfig); err != nil {
				next = append(next, p)
				errs = append(errs, fmt.Errorf("%s: %w", p.pos, err))
			}
		}
		if len(next) == len(pending) { // no progress: the errors stand
			return fmt.Errorf("plugins:\n%w", errors.Join(errs...))
		}
		pending = next
	}
	for _, r := range c.refs {
		if _, ok := c.manager.Get(r.Plugin); !ok {
			c.log.Error("a plugin in use is not registered: its calls fail until it is (junction plugin register)",
				"use", r.What, "plugin", r.Plugin, "function", r.Function, "at", r.Pos.String())
		} else if p, _ := c.manager.Get(r.Plugin); !p.HasFunction(r.Function) {
			c.log.Error("a plugin in use has no such function: its calls fail", "use", r.What, "plugin", r.Plugin, "function", r.Function, "at", r.Pos.String())
		}
	}
	return nil
}

// Stop does nothing: plugins outlive the runtime; the next one reconciles them.
func (declaredPlugins) Stop(context.Context) error { return nil }

func sameManifest(a, b plugin.Manifest) bool {
	return fmt.Sprintf("%+v", a) == fmt.Sprintf("%+v", b)
}

// pluginCaller is what flows, workflows and handlers call plugins through; a nil
// interface (not a nil *plugin.Manager) when the process has none.
type pluginCaller interface {
	Call(ctx context.Context, plugin, function string, input []byte) ([]byte, error)
}

func pluginsOf(deps Deps) pluginCaller {
	if deps.Plugins == nil {
		return nil
	}
	return deps.Plugins
}
