// Package formattest builds what tests of the formats need: descriptor sets compiled
// from .proto files (as `protoc --include_imports --descriptor_set_out` would), so that
// tests keep the readable .proto and no generated binary.
package formattest
