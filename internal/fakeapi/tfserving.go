package fakeapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TFServingConfig configures the TensorFlow Serving fake.
type TFServingConfig struct {
	// Version is the one version of the model half_plus_two it serves; default 123.
	Version int
}

// TFServing is a fake of TensorFlow Serving's REST API (the model server's port 8501)
// serving TensorFlow Serving's own test model, half_plus_two (y = 0.5·x + 2), as its
// test suite does:
//
//   - POST /v1/models/{name}[/versions/{v}]:predict with {"instances": [x, …]} (row
//     format) answered {"predictions": [y, …]}, or {"inputs": [x, …]} (columnar)
//     answered {"outputs": [y, …]}; signature_name may be serving_default
//   - GET /v1/models/{name}[/versions/{v}]: the version status; GET …/metadata: the
//     signature
//
// Errors are TensorFlow Serving's {"error": "…"}: an unknown model or version is 404
// "Servable not found for request: Latest(name)", neither or both of instances and
// inputs 400, a value that is not a number 400 with the JSON type it found. There is no
// authentication, as in TensorFlow Serving.
type TFServing struct {
	*Server
	cfg TFServingConfig
}

// TFServingModel is the name of the model the fake serves.
const TFServingModel = "half_plus_two"

// NewTFServing starts the fake; it is closed when the test ends. The client's base URL
// is URL().
func NewTFServing(t testing.TB, cfg TFServingConfig) *TFServing {
	t.Helper()
	if cfg.Version == 0 {
		cfg.Version = 123
	}
	f := &TFServing{cfg: cfg}
	f.Server = start(t, nil, func(w http.ResponseWriter, _ *http.Request, status int) {
		writeJSON(w, status, map[string]any{"error": http.StatusText(status)})
	}, http.HandlerFunc(f.serve))
	return f
}

func (f *TFServing) serve(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/models/")
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "Malformed request: " + r.Method + " " + r.URL.Path})
		return
	}
	rest, verb, _ := strings.Cut(rest, ":")
	rest, metadata := strings.CutSuffix(rest, "/metadata")
	name, version, versioned := strings.Cut(rest, "/versions/")
	request := fmt.Sprintf("Latest(%s)", name)
	if versioned {
		request = fmt.Sprintf("Specific(%s, %s)", name, version)
	}
	if name != TFServingModel || (versioned && version != fmt.Sprint(f.cfg.Version)) {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "Servable not found for request: " + request})
		return
	}
	switch {
	case r.Method == http.MethodPost && verb == "predict" && !metadata:
		f.predict(w, r)
	case r.Method == http.MethodGet && verb == "" && metadata:
		writeJSON(w, http.StatusOK, map[string]any{
			"model_spec": map[string]any{"name": name, "signature_name": "", "version": fmt.Sprint(f.cfg.Version)},
			"metadata": map[string]any{"signature_def": map[string]any{"signature_def": map[string]any{"serving_default": map[string]any{
				"inputs":      map[string]any{"x": map[string]any{"dtype": "DT_FLOAT", "name": "x:0"}},
				"outputs":     map[string]any{"y": map[string]any{"dtype": "DT_FLOAT", "name": "y:0"}},
				"method_name": "tensorflow/serving/predict"}}}}})
	case r.Method == http.MethodGet && verb == "":
		writeJSON(w, http.StatusOK, map[string]any{"model_version_status": []any{map[string]any{
			"version": fmt.Sprint(f.cfg.Version), "state": "AVAILABLE", "status": map[string]any{"error_code": "OK", "error_message": ""}}}})
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "Malformed request: " + r.Method + " " + r.URL.Path})
	}
}

func (f *TFServing) predict(w http.ResponseWriter, r *http.Request) {
	var req map[string]json.RawMessage
	if err := json.Unmarshal(bytes.TrimSpace(readBody(r)), &req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "JSON Parse error: Invalid value. at offset: 0"})
		return
	}
	if sig, ok := req["signature_name"]; ok && string(sig) != `"serving_default"` {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "Serving signature name: " + strings.Trim(string(sig), `"`) + " not found in signature def"})
		return
	}
	instances, rows := req["instances"]
	inputs, columns := req["inputs"]
	switch {
	case rows && columns:
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "Not formatted correctly expecting only one of 'inputs' or 'instances' key"})
		return
	case !rows && !columns:
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "Missing 'inputs' or 'instances' key"})
		return
	}
	raw, key := instances, "predictions"
	if columns {
		raw, key = inputs, "outputs"
	}
	var xs []any
	if err := json.Unmarshal(raw, &xs); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "Expecting 'instances' to be an list/array"})
		return
	}
	ys := make([]any, len(xs))
	for i, x := range xs {
		v, ok := x.(float64)
		if !ok {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": fmt.Sprintf("JSON Value: %s Type: %s is not of expected type: float", jsonText(x), jsonType(x))})
			return
		}
		ys[i] = 0.5*v + 2
	}
	writeJSON(w, http.StatusOK, map[string]any{key: ys})
}

func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "String"
	case bool:
		return "Bool"
	case []any:
		return "Array"
	case map[string]any:
		return "Object"
	case nil:
		return "Null"
	}
	return "Number"
}
