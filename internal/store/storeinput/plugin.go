package storeinput

import (
	"errors"
	"fmt"

	"github.com/junctionhq/junction/internal/store"
)

// NormalizePlugin checks a plugin to store and normalizes its times.
func NormalizePlugin(p store.Plugin) (store.Plugin, error) {
	switch {
	case p.Name == "":
		return p, errors.New("empty name")
	case len(p.Manifest) == 0 || len(p.Module) == 0:
		return p, errors.New("empty manifest or module")
	case p.SHA256 == "":
		return p, errors.New("empty sha256")
	}
	if err := store.CheckTime(p.CreatedAt); err != nil {
		return p, fmt.Errorf("created at: %w", err)
	}
	if err := store.CheckTime(p.UpdatedAt); err != nil {
		return p, fmt.Errorf("updated at: %w", err)
	}
	p.CreatedAt, p.UpdatedAt = store.NormalizeTime(p.CreatedAt), store.NormalizeTime(p.UpdatedAt)
	return p, nil
}
