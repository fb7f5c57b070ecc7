// Package catalogdoc describes the catalog's entries for people: the list and the
// entry pages of `junction catalog list|show`, and docs/catalog.md, generated from the
// entries themselves (run `go generate ./internal/catalog/catalogdoc`; a test fails
// when the committed file differs). It decodes each entry with the config package,
// so what it shows is what a configuration using the entry gets.
package catalogdoc

//go:generate go run ./gendocs -o ../../../docs/catalog.md
