package store

import (
	"context"
	"time"
)

// Plugin storage: the plugins registered through the API (POST /plugins), module and
// manifest, so that they survive a restart and every node of a cluster loads them. The
// plugins a configuration declares are not stored: the configuration holds them.

// Plugin is a registered plugin.
type Plugin struct {
	Name      string
	Manifest  []byte // the manifest's JSON, as registered
	Module    []byte // the .wasm; nil in PluginList
	SHA256    string // hex SHA-256 of Module: nodes compare it to what they loaded
	CreatedAt time.Time
	UpdatedAt time.Time
}

// PluginStore is the plugin part of Store.
type PluginStore interface {
	// PluginPut stores p under its name, replacing a plugin of that name (keeping its
	// CreatedAt).
	PluginPut(ctx context.Context, p Plugin) error
	// PluginGet returns the plugin with its module. ErrNotFound when none has that name.
	PluginGet(ctx context.Context, name string) (Plugin, error)
	// PluginList returns every plugin without its module, by name.
	PluginList(ctx context.Context) ([]Plugin, error)
	// PluginDelete removes the plugin. ErrNotFound when none has that name.
	PluginDelete(ctx context.Context, name string) error
}
