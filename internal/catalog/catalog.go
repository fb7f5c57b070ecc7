package catalog

import (
	"embed"
	"path"
	"slices"
	"strings"
)

// files are the entries, one NAME.cai each. Adding an entry is adding a file: the
// catalog's tests then ask for its fake-backed test and docs/catalog.md for its page.
//
//go:embed entries/*.cai
var files embed.FS

// Entry is one catalog entry as stored.
type Entry struct {
	Name string // what `from catalog "NAME"` names
	// Path is the entry's file as positions name it ("catalog/stripe.cai"), so that a
	// message about a setting the entry supplies points into the entry.
	Path   string
	Source []byte
}

// Names lists the entries, sorted.
func Names() []string {
	des, _ := files.ReadDir("entries") // embedded: cannot fail
	out := make([]string, 0, len(des))
	for _, de := range des {
		out = append(out, strings.TrimSuffix(de.Name(), ".cai"))
	}
	slices.Sort(out)
	return out
}

// Lookup returns the named entry.
func Lookup(name string) (Entry, bool) {
	if name == "" || strings.ContainsAny(name, `/\.`) {
		return Entry{}, false
	}
	src, err := files.ReadFile(path.Join("entries", name+".cai"))
	if err != nil {
		return Entry{}, false
	}
	return Entry{Name: name, Path: "catalog/" + name + ".cai", Source: src}, true
}
