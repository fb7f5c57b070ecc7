// Package plugintest builds plugin modules for tests: `go build` with GOOS=wasip1
// GOARCH=wasm -buildmode=c-shared, once per package and test process, and shares one
// wazero compilation cache, so the tests of a package compile each module once.
package plugintest
