//go:build wasip1

package pluginkit

import "unsafe"

//go:wasmimport junction http_request
func importHTTP(ptr unsafe.Pointer, size uint32) uint32

//go:wasmimport junction take_response
func importTakeResponse(ptr unsafe.Pointer)

//go:wasmimport junction log
func importLog(level int32, ptr unsafe.Pointer, size uint32)

func hostHTTP(req []byte) ([]byte, error) {
	n := importHTTP(unsafe.Pointer(unsafe.SliceData(req)), uint32(len(req)))
	out := make([]byte, max(n, 1))
	importTakeResponse(unsafe.Pointer(unsafe.SliceData(out)))
	return out[:n], nil
}

func hostLog(level int32, msg string) {
	if msg == "" {
		return
	}
	importLog(level, unsafe.Pointer(unsafe.StringData(msg)), uint32(len(msg)))
}
