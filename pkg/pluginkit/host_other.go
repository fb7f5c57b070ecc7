//go:build !wasip1

package pluginkit

import (
	"context"
	"log/slog"
	"os"
)

// Outside WebAssembly there is no host: Fetch fails and Log writes to stderr, so that
// go test of a plugin's functions runs them.

func hostHTTP([]byte) ([]byte, error) { return nil, ErrNotInJunction }

func hostLog(level int32, msg string) {
	slog.New(slog.NewTextHandler(os.Stderr, nil)).Log(context.Background(), slog.Level(level), msg)
}
