// Command gendocs writes the connector reference, docs/connectors.md, from the connector
// types' option specs. Run it with `go generate ./internal/connector/registry`; a test
// of the registry fails when the committed file differs from what the specs generate.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/junctionhq/junction/internal/connector/registry"
)

func main() {
	out := flag.String("o", "docs/connectors.md", "the file to write")
	flag.Parse()
	if err := os.WriteFile(*out, registry.Reference(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}
