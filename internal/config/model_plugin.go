package config

import "time"

// Plugin is `plugin NAME { path: "x.wasm" … }`: a WebAssembly plugin the configuration
// loads (PRODUCT F1). Its settings are the plugin's manifest (internal/plugin.Manifest)
// written in the language; Path is the module, relative to the file. A plugin can also
// be registered at run time (POST /plugins), without a block.
type Plugin struct {
	Pos          Pos
	Name         string
	Path         string // the .wasm file, resolved against the configuration file's folder
	Version      string
	Description  string
	Author       string
	License      string
	Dependencies []PluginDependency
	Functions    []string
	// HTTPHosts is capabilities { http { allowed_hosts } }: nil without an http
	// capability. Env is capabilities { env }: the variables the plugin sees.
	HTTPHosts []string
	Env       []string
	MemoryMB  int           // limits { memory_mb }; 0: the default
	Timeout   time.Duration // limits { timeout }; 0: the default
	Instances int           // limits { instances }; 0: the default
}

// PluginDependency is one entry of a plugin's dependencies: { name: "base", version: ">=1.0" }.
type PluginDependency struct {
	Name    string
	Version string
}

// Plugin returns the declared plugin with the name, or nil.
func (c *Config) Plugin(name string) *Plugin {
	for _, p := range c.Plugins {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// PluginRef is a use of a plugin function somewhere in the configuration: a flow step,
// a workflow step, a handler action or a mapping expression.
type PluginRef struct {
	Pos      Pos
	What     string // "flow orders step slug", for messages
	Plugin   string
	Function string
}
