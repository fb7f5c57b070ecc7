// Command gendocs writes the catalog reference, docs/catalog.md, from the catalog's
// entries. Run it with `go generate ./internal/catalog/catalogdoc`; a test of catalogdoc
// fails when the committed file differs from what the entries generate.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/junctionhq/junction/internal/catalog/catalogdoc"
)

func main() {
	out := flag.String("o", "docs/catalog.md", "the file to write")
	flag.Parse()
	if err := os.WriteFile(*out, catalogdoc.Reference(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}
