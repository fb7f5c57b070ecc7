package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/junctionhq/junction/internal/telemetry"
)

func TestNewLogger(t *testing.T) {
	tests := []struct {
		format, level string
		wantErr       string // substring; empty means success
		debugShown    bool
		infoShown     bool
		jsonOut       bool
	}{
		{format: "text", level: "debug", debugShown: true, infoShown: true},
		{format: "text", level: "info", infoShown: true},
		{format: "json", level: "info", infoShown: true, jsonOut: true},
		{format: "JSON", level: " WARN ", jsonOut: true},
		{format: "json", level: "error", jsonOut: true},
		{format: "yaml", level: "info", wantErr: `unknown log format "yaml" (want "text" or "json")`},
		{format: "", level: "info", wantErr: "unknown log format"},
		{format: "text", level: "verbose", wantErr: `unknown log level "verbose" (want debug, info, warn or error)`},
		{format: "text", level: "", wantErr: "unknown log level"},
	}
	for _, tt := range tests {
		t.Run(tt.format+"/"+tt.level, func(t *testing.T) {
			var buf bytes.Buffer
			log, err := telemetry.NewLogger(&buf, tt.format, tt.level)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			log.Debug("dbg")
			log.Info("inf")
			out := buf.String()
			if got := strings.Contains(out, "dbg"); got != tt.debugShown {
				t.Errorf("debug shown = %v, want %v; output %q", got, tt.debugShown, out)
			}
			if got := strings.Contains(out, "inf"); got != tt.infoShown {
				t.Errorf("info shown = %v, want %v; output %q", got, tt.infoShown, out)
			}
			if tt.jsonOut && out != "" && !json.Valid([]byte(strings.SplitN(out, "\n", 2)[0])) {
				t.Errorf("json format wrote %q", out)
			}
		})
	}
}

func TestNewLoggerNilWriter(t *testing.T) {
	if _, err := telemetry.NewLogger(nil, "text", "info"); err == nil {
		t.Fatal("want error for nil writer")
	}
}

// secretHolder is how secrets usually travel: inside a config struct.
type secretHolder struct {
	User     string
	Password telemetry.Secret
}

func TestSecretRedactedInLogs(t *testing.T) {
	const raw = "jct_hunter2hunter2hunter2"
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			log, err := telemetry.NewLogger(&buf, format, "debug")
			if err != nil {
				t.Fatal(err)
			}
			s := telemetry.Secret(raw)
			log.Info("plain", "token", s)
			log.Info("any", slog.Any("token", s))
			log.Info("group", slog.Group("db", slog.Any("password", s)))
			log.With("token", s).Info("with")
			log.LogAttrs(context.Background(), slog.LevelWarn, "attrs", slog.Any("token", s))
			log.Info("struct", "cfg", secretHolder{User: "bob", Password: s})
			log.Info("pointer struct", "cfg", &secretHolder{User: "bob", Password: s})
			log.Info("sprintf", "msg", fmt.Sprintf("token=%v", s))

			out := buf.String()
			if strings.Contains(out, "hunter2") {
				t.Fatalf("secret leaked into %s log:\n%s", format, out)
			}
			if n := strings.Count(out, telemetry.Redacted); n < 8 {
				t.Errorf("%q appears %d times, want at least 8:\n%s", telemetry.Redacted, n, out)
			}
		})
	}
}

func TestSecretFormatting(t *testing.T) {
	s := telemetry.Secret("hunter2")
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%10s"} {
		if got := fmt.Sprintf(verb, s); strings.Contains(got, "hunter2") || strings.Contains(got, fmt.Sprintf(verb, "hunter2")) {
			t.Errorf("Sprintf(%q) = %q leaks the secret", verb, got)
		}
	}
	if got := fmt.Sprint(secretHolder{Password: s}); strings.Contains(got, "hunter2") {
		t.Errorf("struct print leaks: %s", got)
	}
	b, err := json.Marshal(secretHolder{Password: s})
	if err != nil || strings.Contains(string(b), "hunter2") {
		t.Errorf("json.Marshal = %s, %v", b, err)
	}
	if s.String() != telemetry.Redacted || s.Reveal() != "hunter2" {
		t.Errorf("String = %q, Reveal = %q", s.String(), s.Reveal())
	}
	// Decoding into a Secret still works: only output is redacted.
	var h secretHolder
	if err := json.Unmarshal([]byte(`{"Password":"p@ss"}`), &h); err != nil || h.Password.Reveal() != "p@ss" {
		t.Errorf("Unmarshal = %q, %v", h.Password.Reveal(), err)
	}
}

func TestNewRegistry(t *testing.T) {
	reg := telemetry.NewRegistry()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
	}
	for _, want := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_cpu_seconds_total"} {
		if !names[want] {
			t.Errorf("registry lacks %s", want)
		}
	}
	// Registries are independent: a second one must not collide with the first.
	if telemetry.NewRegistry() == reg {
		t.Error("NewRegistry returned the same registry twice")
	}
}
