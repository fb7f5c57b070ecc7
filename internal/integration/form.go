package integration

import (
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// headerForm is the Content-Type of `body_type: form` bodies.
var headerForm = []string{"application/x-www-form-urlencoded"}

// encodeForm writes a body as application/x-www-form-urlencoded, nesting objects and
// lists in the bracket notation that Stripe and most form-reading APIs (Rails, PHP,
// qs) understand: metadata[order]=42, payment_method_types[0]=card,
// items[0][price]=p_1. Lists are indexed, which every reader of the notation accepts,
// also for lists of objects, where `[]` is ambiguous. Members are written in sorted
// order, so that one call always makes the same body (cache keys, signatures). A null
// is an empty value, Stripe's way to unset a field; an empty list or object is left out.
func encodeForm(obj map[string]any) []byte {
	var b strings.Builder
	writeForm(&b, "", obj)
	return []byte(b.String())
}

func writeForm(b *strings.Builder, key string, v any) {
	switch x := v.(type) {
	case map[string]any:
		names := make([]string, 0, len(x))
		for k := range x {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			writeForm(b, formKey(key, k), x[k])
		}
	case []any:
		for i, item := range x {
			writeForm(b, formKey(key, strconv.Itoa(i)), item)
		}
	default:
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(key))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(formScalar(x)))
	}
}

func formKey(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "[" + name + "]"
}

func formScalar(v any) string {
	if v == nil {
		return ""
	}
	if s, ok := scalarString(v); ok {
		return s
	}
	raw, _ := json.Marshal(v) // not reached for decoded JSON: every kind is handled above
	return string(raw)
}
