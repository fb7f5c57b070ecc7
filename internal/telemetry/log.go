package telemetry

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Log formats accepted by NewLogger.
const (
	FormatText = "text"
	FormatJSON = "json"
)

// NewLogger returns a logger writing to w in the given format ("text" or "json") at or
// above the given level ("debug", "info", "warn" or "error"). Both are matched
// case-insensitively, since they come from config files and flags written by people.
func NewLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	if w == nil {
		return nil, errors.New("telemetry: new logger: nil writer")
	}
	lvl, err := ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("telemetry: new logger: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch strings.ToLower(strings.TrimSpace(format)) {
	case FormatText:
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case FormatJSON:
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("telemetry: new logger: unknown log format %q (want %q or %q)", format, FormatText, FormatJSON)
	}
}

// ParseLevel turns "debug", "info", "warn" or "error" into a slog level.
func ParseLevel(level string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(level)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	default:
		return 0, fmt.Errorf("unknown log level %q (want debug, info, warn or error)", level)
	}
}
