package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"reflect"
	"sort"

	"github.com/junctionhq/junction/internal/config"
)

var (
	posType   = reflect.TypeFor[config.Pos]()
	valueType = reflect.TypeFor[config.Value]()
)

// fingerprint digests an integration's settings as the runtime sees them. key covers the
// whole model except source positions (moving a block in the file changes nothing) plus
// every env()/file() value resolved now (a rotated secret is a change, although the file
// is the same) and the contents of the tls block's files: two integrations with equal keys behave the same, so a reload may hand
// the new one the old one's state. version covers the model alone, without resolved
// values: it goes into cache keys, which a shared Redis holds, where not even a digest
// of a secret belongs.
//
// The walk is generic over the model, so that a setting added later is covered without
// anyone remembering to list it here.
func fingerprint(in *config.Integration, lookup config.LookupEnv) (key [32]byte, version string) {
	model := sha256.New()
	var values []string
	walk(model, reflect.ValueOf(in), func(v config.Value) {
		s, err := v.Resolve(lookup)
		if err != nil {
			s = "\x00unresolved: " + err.Error()
		}
		values = append(values, s)
	})
	if t := in.TLS; t != nil {
		// The files, not only their names: a rotated certificate is a change.
		for _, f := range []string{t.CA, t.Cert, t.Key} {
			if f == "" {
				continue
			}
			data, err := os.ReadFile(f)
			if err != nil {
				data = []byte("\x00unreadable: " + err.Error())
			}
			values = append(values, string(data))
		}
	}
	for _, f := range formatFiles(in) {
		// A schema or descriptor set rewritten in place is a change too.
		data, err := os.ReadFile(f)
		if err != nil {
			data = []byte("\x00unreadable: " + err.Error())
		}
		values = append(values, string(data))
	}
	sum := model.Sum(nil)
	version = hex.EncodeToString(sum[:12])
	h := sha256.New()
	h.Write(sum)
	for _, s := range values {
		fmt.Fprintf(h, "%d:%s", len(s), s)
	}
	h.Sum(key[:0])
	return key, version
}

// walk writes a canonical rendering of v to h: every field with its name, lengths before
// lists, map members sorted by key, no positions; a config.Value as written (its
// references, never its resolved text), which it also hands to value.
func walk(h hash.Hash, v reflect.Value, value func(config.Value)) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			io.WriteString(h, "nil;")
			return
		}
		if v.Kind() == reflect.Interface {
			fmt.Fprintf(h, "%s:", v.Elem().Type())
		}
		walk(h, v.Elem(), value)
	case reflect.Struct:
		switch v.Type() {
		case posType:
			return
		case valueType:
			cv := v.Interface().(config.Value)
			fmt.Fprintf(h, "value%q;", cv.String())
			value(cv)
			return
		}
		t := v.Type()
		for i := range t.NumField() {
			io.WriteString(h, t.Field(i).Name+"=")
			walk(h, v.Field(i), value)
		}
		io.WriteString(h, ";")
	case reflect.Slice, reflect.Array:
		fmt.Fprintf(h, "[%d:", v.Len())
		for i := range v.Len() {
			walk(h, v.Index(i), value)
		}
		io.WriteString(h, "]")
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		fmt.Fprintf(h, "{%d:", len(keys))
		for _, k := range keys {
			fmt.Fprintf(h, "%q=", fmt.Sprint(k))
			walk(h, v.MapIndex(k), value)
		}
		io.WriteString(h, "}")
	case reflect.String:
		fmt.Fprintf(h, "%q;", v.String())
	case reflect.Func, reflect.Chan, reflect.UnsafePointer:
		// not settings; their addresses differ from run to run
	default: // numbers, booleans, durations
		fmt.Fprintf(h, "%v;", v)
	}
}
