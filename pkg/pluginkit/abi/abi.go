package abi

// Version is the version of this contract; a plugin built against another is refused
// when it is loaded.
const Version = 1

// The functions a plugin module exports.
const (
	// ExportVersion () -> i32: the Version the plugin was built against.
	ExportVersion = "junction_abi"
	// ExportBuffer (size i32) -> ptr i32: a buffer of at least size bytes in the plugin's
	// memory, where the host writes the next input.
	ExportBuffer = "junction_buffer"
	// ExportDescribe () -> i64: a Result whose output is the JSON of a Description.
	ExportDescribe = "junction_describe"
	// ExportCall (function i32, size i32) -> i64: runs the function with that index in the
	// Description on the size bytes of the buffer; a Result.
	ExportCall = "junction_call"
	// ExportHook (hook i32) -> i64: runs a hook (HookPreStartup, HookPostShutdown); a
	// Result whose output is empty on success.
	ExportHook = "junction_hook"
)

// HostModule is the module whose functions a plugin imports.
const HostModule = "junction"

// The host functions.
const (
	// ImportHTTP (ptr i32, len i32) -> i32: sends the HTTPRequest whose JSON lies at ptr;
	// returns the length of the HTTPResponse's JSON, which ImportTakeResponse copies.
	ImportHTTP = "http_request"
	// ImportTakeResponse (ptr i32): copies the answer of the last ImportHTTP to ptr.
	ImportTakeResponse = "take_response"
	// ImportLog (level i32, ptr i32, len i32): logs the text at ptr; level is a
	// log/slog level (-4 debug, 0 info, 4 warn, 8 error).
	ImportLog = "log"
)

// The hooks, by their number in ExportHook.
const (
	HookPreStartup   = 0
	HookPostShutdown = 1
)

// HookNames are the hooks' names, by number, as a Description and a manifest write them.
var HookNames = [...]string{HookPreStartup: "pre_startup", HookPostShutdown: "post_shutdown"}

// The statuses of a Result.
const (
	StatusOK = 0 // the output is the function's value
	// StatusError: the output is an error message; the call may succeed if tried again.
	StatusError = 1
	// StatusPermanent: the output is an error message, and the same input will fail
	// again (invalid input): a flow sends the message to its dead letters at once.
	StatusPermanent = 2
)

// MaxLength bounds an input or output: 30 bits of a Result.
const MaxLength = 1<<30 - 1

// Result packs an output's place in memory, its length and the status into one number:
// ptr in the high 32 bits, the status in bits 30-31 and the length in bits 0-29.
type Result uint64

// Pack makes a Result. A length beyond MaxLength does not fit: callers check it first.
func Pack(ptr, length, status uint32) Result {
	return Result(uint64(ptr)<<32 | uint64(status&3)<<30 | uint64(length&MaxLength))
}

// Unpack reads a Result.
func (r Result) Unpack() (ptr, length, status uint32) {
	return uint32(r >> 32), uint32(r) & MaxLength, uint32(r>>30) & 3
}

// Description is what a plugin says it provides (ExportDescribe): its functions, in
// the order ExportCall numbers them, and its hooks by name.
type Description struct {
	Functions []string `json:"functions"`
	Hooks     []string `json:"hooks,omitempty"`
}

// HTTPRequest is a request a plugin sends through ImportHTTP. Body is base64 in JSON.
type HTTPRequest struct {
	Method string            `json:"method"`
	URL    string            `json:"url"`
	Header map[string]string `json:"header,omitempty"`
	Body   []byte            `json:"body,omitempty"`
}

// HTTPResponse is the answer to an HTTPRequest; Error is set, and the rest empty, when
// no answer came (the host is not allowed, the connection failed, the call's time ran
// out).
type HTTPResponse struct {
	Status int               `json:"status,omitempty"`
	Header map[string]string `json:"header,omitempty"`
	Body   []byte            `json:"body,omitempty"`
	Error  string            `json:"error,omitempty"`
}
