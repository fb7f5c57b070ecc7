//go:build wasip1

package pluginkit

import (
	"encoding/json"
	"unsafe"

	"github.com/junctionhq/junction/pkg/pluginkit/abi"
)

// input is the buffer Junction writes inputs into (junction_buffer); output keeps the
// last result reachable until Junction has read it, at the next call.
var input, output []byte

//go:wasmexport junction_abi
func exportABI() uint32 { return abi.Version }

//go:wasmexport junction_buffer
func exportBuffer(size uint32) unsafe.Pointer {
	if uint32(cap(input)) < size || cap(input) == 0 {
		input = make([]byte, max(size, 512))
	}
	return unsafe.Pointer(unsafe.SliceData(input))
}

//go:wasmexport junction_describe
func exportDescribe() uint64 {
	b, _ := json.Marshal(describe())
	return result(b, abi.StatusOK)
}

//go:wasmexport junction_call
func exportCall(fn, size uint32) uint64 {
	// Not copied: an allocation costs about a microsecond in WebAssembly (see Func).
	return result(call(int(fn), input[:size:size]))
}

//go:wasmexport junction_hook
func exportHook(h uint32) uint64 { return result(hook(h)) }

// result keeps out until the next call and packs where it is.
func result(out []byte, status uint32) uint64 {
	output = out
	if len(out) == 0 {
		return uint64(abi.Pack(0, 0, status))
	}
	return uint64(abi.Pack(uint32(uintptr(unsafe.Pointer(unsafe.SliceData(out)))), uint32(len(out)), status))
}

// describe is the Description of what is registered.
func describe() abi.Description {
	d := abi.Description{Functions: registry.names}
	if d.Functions == nil {
		d.Functions = []string{}
	}
	if registry.startup != nil {
		d.Hooks = append(d.Hooks, abi.HookNames[abi.HookPreStartup])
	}
	if registry.shutdown != nil {
		d.Hooks = append(d.Hooks, abi.HookNames[abi.HookPostShutdown])
	}
	return d
}

// hook runs a hook, if the plugin set it.
func hook(h uint32) (out []byte, status uint32) {
	var fn func() error
	switch h {
	case abi.HookPreStartup:
		fn = registry.startup
	case abi.HookPostShutdown:
		fn = registry.shutdown
	}
	if fn == nil {
		return nil, abi.StatusOK
	}
	return guard(func() ([]byte, error) { return nil, fn() })
}
