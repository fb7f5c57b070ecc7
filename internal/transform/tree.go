package transform

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
)

// This file converts values into and out of message trees: configuration values
// (int64/float64 numbers) into trees, trees into what expr-lang and ojg's filters can
// compare (int/float64 numbers), and expression results back into trees.

// fromConfig turns a value produced by the configuration decoder (int64, float64 and int
// numbers) into a message tree (json.Number numbers), so that literals in templates and
// inline schemas behave exactly like the same values read from a message.
func fromConfig(v any) (any, error) {
	return configValue(v, "")
}

// configValue is fromConfig for the value at key path at, which errors name.
func configValue(v any, at string) (any, error) {
	var out any
	var err error
	switch v := v.(type) {
	case nil, bool, string, json.Number:
		return v, nil
	case int:
		return json.Number(strconv.Itoa(v)), nil
	case int64:
		return json.Number(strconv.FormatInt(v, 10)), nil
	case float64:
		out, err = floatNumber(v)
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			if m[k], err = configValue(e, keyPath(at, k)); err != nil {
				return nil, err
			}
		}
		return m, nil
	case []any:
		l := make([]any, len(v))
		for i, e := range v {
			if l[i], err = configValue(e, indexPath(at, i)); err != nil {
				return nil, err
			}
		}
		return l, nil
	default:
		err = fmt.Errorf("unsupported value of type %T", v)
	}
	if err != nil && at != "" {
		err = fmt.Errorf("%s: %w", at, err)
	}
	return out, err
}

// floatNumber formats f the way encoding/json does (no exponent between 1e-6 and 1e21),
// so a computed 2.5 reads "2.5" and a computed 120.0 reads "120".
func floatNumber(f float64) (json.Number, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", fmt.Errorf("number %v has no JSON form", f)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b := strconv.AppendFloat(make([]byte, 0, 24), f, format, -1, 64)
	if format == 'e' {
		// 1e-07 → 1e-7, as encoding/json writes it.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return json.Number(b), nil
}

// numbersForExpr converts json.Number values to int (when the integer fits int64) or
// float64, which expr-lang (and ojg's filters) can compare.
func numbersForExpr(v any) any {
	c, _ := convertNumbers(v)
	return c
}

// convertNumbers does the work of numbersForExpr and reports whether anything changed.
// Containers are copied only when something inside them changes, in one pass: the first
// change clones what was already seen (all unchanged) and later changes are written into
// the clone.
func convertNumbers(v any) (any, bool) {
	switch t := v.(type) {
	case json.Number:
		return exprNumber(t), true
	case map[string]any:
		var out map[string]any
		for k, e := range t {
			c, changed := convertNumbers(e)
			if !changed {
				continue
			}
			if out == nil {
				out = maps.Clone(t)
			}
			out[k] = c
		}
		if out == nil {
			return t, false
		}
		return out, true
	case []any:
		var out []any
		for i, e := range t {
			c, changed := convertNumbers(e)
			if !changed {
				continue
			}
			if out == nil {
				out = slices.Clone(t)
			}
			out[i] = c
		}
		if out == nil {
			return t, false
		}
		return out, true
	}
	return v, false
}

func exprNumber(n json.Number) any {
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil && int64(int(i)) == i {
		return int(i)
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return string(n) // not a number at all; only a hand-built tree can hold this
	}
	return f
}

// fromExpr turns an expression's result into a message tree: numbers become
// json.Number, containers are rebuilt (so the result never aliases the environment),
// and any other Go value (a time, a []string from split) goes through encoding/json.
func fromExpr(v any) (any, error) {
	switch t := v.(type) {
	case nil, bool, string, json.Number:
		return t, nil
	case int:
		return json.Number(strconv.Itoa(t)), nil
	case int64:
		return json.Number(strconv.FormatInt(t, 10)), nil
	case float64:
		return floatNumber(t)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			c, err := fromExpr(e)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			c, err := fromExpr(e)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("result of type %T has no JSON form: %w", v, err)
	}
	return Decode(b)
}

// keyPath and indexPath build the key paths that name a place in a template or schema
// in error messages: "customer.email", "items[2]", `headers."x.y"`.
func keyPath(parent, key string) string {
	if !isPlainKey(key) {
		key = strconv.Quote(key)
	}
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func indexPath(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}

func isPlainKey(key string) bool {
	if key == "" {
		return false
	}
	for _, r := range key {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
