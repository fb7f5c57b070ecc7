package telemetry

import "log/slog"

// Redacted is what a Secret prints as.
const Redacted = "[redacted]"

// Secret is a string that must never reach a log, an error message or an API response
// by accident: API tokens, database passwords, webhook signing keys. Every way Go
// renders a value (slog, fmt verbs, encoding/json, encoding/text) shows Redacted. Code
// that really needs the value asks for it with Reveal, which is easy to find in review.
type Secret string

// Reveal returns the secret value. Call it only where the value is handed to what needs
// it (a database driver, an HTTP header), never to build a log line.
func (s Secret) Reveal() string { return string(s) }

// LogValue implements slog.LogValuer, so slog handlers print Redacted.
func (Secret) LogValue() slog.Value { return slog.StringValue(Redacted) }

// String implements fmt.Stringer, covering %v, %s, %q and friends.
func (Secret) String() string { return Redacted }

// GoString implements fmt.GoStringer, covering %#v.
func (Secret) GoString() string { return `telemetry.Secret("` + Redacted + `")` }

// MarshalText implements encoding.TextMarshaler. It covers encoding/json too, so a
// struct holding a Secret that is logged with slog.Any and a JSON handler stays redacted.
func (Secret) MarshalText() ([]byte, error) { return []byte(Redacted), nil }
