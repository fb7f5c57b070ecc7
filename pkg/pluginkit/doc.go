// Package pluginkit is the plugin side of Junction's WebAssembly plugins: a plugin is
// an ordinary Go package main that registers its functions with this package in an
// init function, built with the standard toolchain as a WASI reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o slug.wasm .
//
// A function takes one JSON value and returns one. Junction calls it as a flow step
// (`plugin: slug.slugify`, the message in, the new message out), as a workflow step or
// an event handler's action (the step's input or the event in, the result out), and
// from mapping expressions (`"=plugin.slug.slugify(title)"`, the argument in, or a list
// of the arguments when there are several).
//
//	package main
//
//	import "github.com/junctionhq/junction/pkg/pluginkit"
//
//	type order struct{ ID string `json:"id"` }
//
//	func init() {
//		pluginkit.Handle("normalize", func(o order) (order, error) { … })
//	}
//
//	func main() {} // not run: a reactor's functions are called by Junction
//
// A plugin runs in a sandbox: its own memory (limited), a time limit per call, no file
// system, no network and no environment, except what its manifest's capabilities grant:
// Fetch reaches the hosts of the http capability, os.Getenv the variables of the env
// capability. Each call may run in any of several instances of the plugin, so a plugin
// keeps no state between calls; the hooks (OnStartup, OnShutdown) run once per load, in
// one instance.
//
// Outside WebAssembly the package still builds, so a plugin's functions can be tested
// with go test: Call runs a registered function in-process.
package pluginkit
