package app

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
)

// pluginView is a plugin as the API answers it; raw keeps the whole answer for get.
type pluginView struct {
	Name       string   `json:"name"`
	Version    string   `json:"version"`
	Functions  []string `json:"functions"`
	Source     string   `json:"source"`
	Loaded     bool     `json:"loaded"`
	Error      string   `json:"error"`
	Calls      int64    `json:"calls"`
	Errors     int64    `json:"errors"`
	MeanMicros float64  `json:"mean_us"`
}

// PluginRegister registers the module at wasmPath with the manifest at manifestPath on
// a running server, and prints what it registered.
func PluginRegister(ctx context.Context, c APIClient, wasmPath, manifestPath string, w io.Writer) error {
	if manifestPath == "" {
		return fmt.Errorf("--manifest is required: the plugin's manifest.json (name, version, functions, capabilities)")
	}
	module, err := os.ReadFile(wasmPath)
	if err != nil {
		return err
	}
	manifest, err := os.ReadFile(manifestPath)
	if err != nil {
		return err
	}
	if !json.Valid(manifest) {
		return fmt.Errorf("%s is not JSON", manifestPath)
	}
	body, err := json.Marshal(map[string]any{"manifest": json.RawMessage(manifest), "module": base64.StdEncoding.EncodeToString(module)})
	if err != nil {
		return err
	}
	var p pluginView
	if _, err := c.do(ctx, http.MethodPost, "/plugins", body, &p, http.StatusCreated); err != nil {
		return err
	}
	fmt.Fprintf(w, "plugin %s %s registered: %s\n", p.Name, p.Version, strings.Join(p.Functions, ", "))
	return nil
}

// PluginUnregister removes a registered plugin from a running server (every node).
func PluginUnregister(ctx context.Context, c APIClient, name string, w io.Writer) error {
	if _, err := c.do(ctx, http.MethodDelete, "/plugins/"+url.PathEscape(name), nil, nil, http.StatusNoContent); err != nil {
		return err
	}
	fmt.Fprintf(w, "plugin %s unregistered\n", name)
	return nil
}

// PluginGet prints a plugin's manifest and state as JSON.
func PluginGet(ctx context.Context, c APIClient, name string, w io.Writer) error {
	var raw json.RawMessage
	if err := c.get(ctx, "/plugins/"+url.PathEscape(name), &raw); err != nil {
		return err
	}
	var out any
	_ = json.Unmarshal(raw, &out)
	b, _ := json.MarshalIndent(out, "", "  ")
	_, err := fmt.Fprintf(w, "%s\n", b)
	return err
}

// PluginList prints the server's plugins, one line each.
func PluginList(ctx context.Context, c APIClient, w io.Writer) error {
	var list struct {
		Data []pluginView `json:"data"`
	}
	if err := c.get(ctx, "/plugins", &list); err != nil {
		return err
	}
	if len(list.Data) == 0 {
		fmt.Fprintln(w, "no plugins (junction plugin register, or plugin NAME { … } in the configuration)")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tSOURCE\tSTATE\tFUNCTIONS\tCALLS\tERRORS\tMEAN µs")
	for _, p := range list.Data {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%.1f\n", p.Name, p.Version, p.Source, state(p), strings.Join(p.Functions, ","), p.Calls, p.Errors, p.MeanMicros)
	}
	return tw.Flush()
}

// PluginStatus prints one plugin's state: loaded or why not, calls, errors, mean time.
func PluginStatus(ctx context.Context, c APIClient, name string, w io.Writer) error {
	var p pluginView
	if err := c.get(ctx, "/plugins/"+url.PathEscape(name), &p); err != nil {
		return err
	}
	fmt.Fprintf(w, "plugin %s %s (%s): %s\n", p.Name, p.Version, p.Source, state(p))
	if p.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", p.Error)
	}
	fmt.Fprintf(w, "  functions: %s\n  calls: %d  errors: %d  mean: %.1f µs\n", strings.Join(p.Functions, ", "), p.Calls, p.Errors, p.MeanMicros)
	return nil
}

func state(p pluginView) string {
	if p.Loaded {
		return "loaded"
	}
	return "failed"
}
