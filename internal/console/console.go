package console

import (
	"embed"
	"io/fs"
)

//go:embed assets
var embedded embed.FS

// Assets are the console's files: index.html at the root, then app.js and app.css.
var Assets = mustSub(embedded, "assets")

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // the directory is embedded above: it exists
	}
	return sub
}
