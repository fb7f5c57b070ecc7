package handler

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/webhook"
)

// Shapes are the declared events' payloads (`event user_created { schema { … } }`), by
// EventKey, for checking what POST /events is given. Only basic types are checked:
// string, uuid, integer, decimal/number, boolean, timestamp (RFC 3339), array, object.
type Shapes map[string]*config.EventType

// NewShapes reads cfg's event declarations.
func NewShapes(cfg *config.Config) Shapes {
	s := Shapes{}
	for _, ev := range cfg.Events {
		if len(ev.Payload) > 0 {
			s[config.EventKey(ev.Name)] = ev
		}
	}
	return s
}

// Check returns a *webhook.ValidationError naming each declared field that data lacks
// (fields written optional or with a default may be left out) or holds with another
// type. An event type nothing declares is not checked.
func (s Shapes) Check(typ string, data json.RawMessage) error {
	ev := s[config.EventKey(typ)]
	if ev == nil {
		return nil
	}
	v := &webhook.ValidationError{Fields: map[string]string{}}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var obj map[string]any
	if d.Decode(&obj) != nil || obj == nil {
		v.Fields["data"] = fmt.Sprintf("event %s declares a payload: expected a JSON object", ev.Name)
		return v
	}
	for _, f := range ev.Payload {
		val, ok := obj[f.Name]
		if !ok || val == nil {
			if !f.Optional && !f.HasDefault {
				v.Fields["data."+f.Name] = fmt.Sprintf("missing: event %s declares %s %s", ev.Name, f.Name, typeName(f.Type))
			}
			continue
		}
		if !fits(f.Type, val) {
			v.Fields["data."+f.Name] = fmt.Sprintf("expected %s (event %s declares it so), found %s", typeName(f.Type), ev.Name, jsonKind(val))
		}
	}
	if len(v.Fields) > 0 {
		return v
	}
	return nil
}

func typeName(t *config.Type) string {
	switch t.Kind {
	case config.KindList:
		return "an array"
	case config.KindObject:
		return "an object"
	case config.KindEnum:
		return "one of " + strings.Join(t.Enum, ", ")
	}
	return t.Name
}

// fits reports whether a decoded JSON value is of type t; types it does not know fit.
func fits(t *config.Type, v any) bool {
	switch t.Kind {
	case config.KindList:
		_, ok := v.([]any)
		return ok
	case config.KindObject:
		_, ok := v.(map[string]any)
		return ok
	case config.KindEnum:
		s, ok := v.(string)
		return ok && (len(t.Enum) == 0 || slices.Contains(t.Enum, s))
	case config.KindScalar:
	default:
		return true
	}
	switch strings.ToLower(t.Name) {
	case "string", "text", "email", "url":
		_, ok := v.(string)
		return ok
	case "uuid":
		s, ok := v.(string)
		return ok && uuid.Validate(s) == nil
	case "integer", "int", "long":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		_, err := n.Int64()
		return err == nil
	case "decimal", "number", "float", "double", "money":
		_, ok := v.(json.Number)
		return ok
	case "boolean", "bool":
		_, ok := v.(bool)
		return ok
	case "timestamp", "datetime", "time":
		s, ok := v.(string)
		if !ok {
			return false
		}
		_, err := time.Parse(time.RFC3339Nano, s)
		return err == nil
	case "array", "list":
		_, ok := v.([]any)
		return ok
	case "object", "map":
		_, ok := v.(map[string]any)
		return ok
	}
	return true
}

func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "null"
}
