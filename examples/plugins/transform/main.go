// Command transform is an example plugin: a transform of seed 002's orders, used as a
// flow step (plugin: orders.normalize) or in a mapping ("=plugin.orders.normalize($)").
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o orders.wasm ./examples/plugins/transform
//	junction plugin register orders.wasm --manifest examples/plugins/transform/manifest.json
package main

import (
	"errors"
	"strings"

	"github.com/junctionhq/junction/pkg/pluginkit"
)

func init() {
	// normalize reads the members it needs and writes the new message itself
	// (pluginkit.FieldsInto, pluginkit.Object), allocating once: on a flow's hot path
	// that is several times faster in WebAssembly than encoding/json, which
	// pluginkit.Handle uses.
	pluginkit.Register("normalize", func(in []byte) ([]byte, error) {
		var f [4][]byte
		if err := pluginkit.FieldsInto(f[:], in, "orderId", "customerEmail", "orderItems", "orderTotal"); err != nil {
			return nil, pluginkit.Permanent(err)
		}
		if len(f[0]) < 3 || f[0][0] != '"' {
			// Permanent: the same order fails again, so a flow dead-letters it at once.
			return nil, pluginkit.Permanent(errors.New("the order has no orderId"))
		}
		items, _ := pluginkit.Len(f[2])
		return pluginkit.NewObject(len(in)).
			Raw("id", f[0]).
			Raw("email", f[1]).
			Raw("total", f[3]).
			Int("item_count", int64(items)).
			Bytes(), nil
	})
	// slug is written the convenient way: Go values in and out through encoding/json.
	pluginkit.Handle("slug", func(s string) (string, error) {
		return strings.ToLower(strings.Join(strings.Fields(s), "-")), nil
	})
}

func main() {} // not run: Junction calls the registered functions
