package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/junctionhq/junction/internal/auth"
	"github.com/junctionhq/junction/internal/errkind"
	"github.com/junctionhq/junction/internal/plugin"
)

// Plugins is what the plugin API needs (*plugin.Registry).
type Plugins interface {
	Register(ctx context.Context, manifest, module []byte) (plugin.Status, error)
	Unregister(ctx context.Context, name string) error
	List() []plugin.Status
	Status(name string) (plugin.Status, bool)
}

// maxPluginBody bounds POST /plugins: a module of up to 48 MiB, base64 in JSON.
const maxPluginBody = 64 << 20

func (s *Server) pluginRoutes() {
	s.handle("POST /plugins", auth.RoleAdmin, s.registerPlugin)
	s.handle("GET /plugins", auth.RoleUser, s.listPlugins)
	s.handle("GET /plugins/{name}", auth.RoleUser, s.getPlugin)
	s.handle("DELETE /plugins/{name}", auth.RoleAdmin, s.unregisterPlugin)
}

// registerPluginRequest is POST /plugins: the manifest, and the module in base64.
type registerPluginRequest struct {
	Manifest json.RawMessage `json:"manifest"`
	Module   string          `json:"module"`
}

// pluginJSON is a plugin in the API: its manifest, where it came from, and its state in
// the node that answers (calls, errors and mean time are this node's since the load).
type pluginJSON struct {
	Name         string              `json:"name"`
	Version      string              `json:"version"`
	Description  string              `json:"description,omitempty"`
	Author       string              `json:"author,omitempty"`
	License      string              `json:"license,omitempty"`
	Functions    []string            `json:"functions"`
	Dependencies []plugin.Dependency `json:"dependencies,omitempty"`
	Capabilities plugin.Capabilities `json:"capabilities"`
	Limits       plugin.Limits       `json:"limits"`
	Source       string              `json:"source"` // api or config
	SHA256       string              `json:"sha256"`
	Loaded       bool                `json:"loaded"`
	Error        string              `json:"error,omitempty"` // why it did not load
	LoadedAt     *time.Time          `json:"loaded_at,omitempty"`
	Calls        int64               `json:"calls"`
	Errors       int64               `json:"errors"`
	MeanMicros   float64             `json:"mean_us"`
}

func toPluginJSON(st plugin.Status) pluginJSON {
	m := st.Manifest
	out := pluginJSON{
		Name: st.Name, Version: st.Version, Description: m.Description, Author: m.Author, License: m.License,
		Functions: m.Functions, Dependencies: m.Dependencies, Capabilities: m.Capabilities, Limits: m.Limits,
		Source: st.Source, SHA256: st.SHA256, Loaded: st.Loaded, Error: st.Error,
		Calls: st.Calls, Errors: st.Errors, MeanMicros: st.MeanMicros,
	}
	if out.Functions == nil {
		out.Functions = []string{}
	}
	if !st.LoadedAt.IsZero() {
		t := st.LoadedAt.UTC()
		out.LoadedAt = &t
	}
	return out
}

func (s *Server) registerPlugin(w http.ResponseWriter, r *http.Request) error {
	var req registerPluginRequest
	if err := decodeJSON(w, r, maxPluginBody, &req); err != nil {
		return err
	}
	var errs []FieldError
	if len(req.Manifest) == 0 {
		errs = append(errs, FieldError{Field: "manifest", Detail: "required: the plugin's manifest (name, version, functions, …)"})
	}
	if len(req.Module) == 0 {
		errs = append(errs, FieldError{Field: "module", Detail: "required: the .wasm module, base64"})
	}
	module, err := base64.StdEncoding.DecodeString(req.Module)
	if err != nil {
		errs = append(errs, FieldError{Field: "module", Detail: "not base64 (standard alphabet, padded): " + err.Error()})
	}
	if len(errs) > 0 {
		return invalid("a plugin needs its manifest and its module", errs...)
	}
	st, err := s.plugins.Register(r.Context(), req.Manifest, module)
	var bad *plugin.InvalidError
	if errors.As(err, &bad) {
		return invalid("the plugin was refused: "+bad.Error(), FieldError{Field: "", Detail: bad.Error()})
	}
	if err != nil {
		return describe(err, errkind.ErrConflict, err.Error())
	}
	return writeJSON(w, http.StatusCreated, toPluginJSON(st))
}

func (s *Server) listPlugins(w http.ResponseWriter, _ *http.Request) error {
	list := s.plugins.List()
	data := make([]pluginJSON, len(list))
	for i, st := range list {
		data[i] = toPluginJSON(st)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"data": data})
}

func (s *Server) getPlugin(w http.ResponseWriter, r *http.Request) error {
	st, ok := s.plugins.Status(r.PathValue("name"))
	if !ok {
		return NewProblem(KindNotFound, "no such plugin")
	}
	return writeJSON(w, http.StatusOK, toPluginJSON(st))
}

func (s *Server) unregisterPlugin(w http.ResponseWriter, r *http.Request) error {
	err := s.plugins.Unregister(r.Context(), r.PathValue("name"))
	if err != nil {
		if errors.Is(err, errkind.ErrNotFound) {
			return describe(err, errkind.ErrNotFound, "no such registered plugin")
		}
		return describe(err, errkind.ErrConflict, err.Error())
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
