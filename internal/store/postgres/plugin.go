package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/storeinput"
)

// Plugin storage (store.PluginStore).

// PluginPut implements store.Store.
func (s *Store) PluginPut(ctx context.Context, p store.Plugin) error {
	p, err := storeinput.NormalizePlugin(p)
	if err != nil {
		return fmt.Errorf("postgres: plugin put: %w", err)
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO plugins (name, manifest, module, sha256, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (name) DO UPDATE SET manifest = excluded.manifest, module = excluded.module, sha256 = excluded.sha256, updated_at = excluded.updated_at`,
		p.Name, p.Manifest, p.Module, p.SHA256, p.CreatedAt, p.UpdatedAt)
	if err != nil {
		return fmt.Errorf("postgres: plugin put %q: %w", p.Name, mapError(err))
	}
	return nil
}

// PluginGet implements store.Store.
func (s *Store) PluginGet(ctx context.Context, name string) (store.Plugin, error) {
	var p store.Plugin
	err := s.pool.QueryRow(ctx, `SELECT name, manifest, module, sha256, created_at, updated_at FROM plugins WHERE name = $1`, name).
		Scan(&p.Name, &p.Manifest, &p.Module, &p.SHA256, &p.CreatedAt, &p.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Plugin{}, fmt.Errorf("postgres: plugin get %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return store.Plugin{}, fmt.Errorf("postgres: plugin get %q: %w", name, mapError(err))
	}
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	return p, nil
}

// PluginList implements store.Store.
func (s *Store) PluginList(ctx context.Context) ([]store.Plugin, error) {
	rows, err := s.pool.Query(ctx, `SELECT name, manifest, sha256, created_at, updated_at FROM plugins ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("postgres: plugin list: %w", mapError(err))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Plugin, error) {
		var p store.Plugin
		err := row.Scan(&p.Name, &p.Manifest, &p.SHA256, &p.CreatedAt, &p.UpdatedAt)
		p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: plugin list: %w", mapError(err))
	}
	return out, nil
}

// PluginDelete implements store.Store.
func (s *Store) PluginDelete(ctx context.Context, name string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM plugins WHERE name = $1`, name)
	if err != nil {
		return fmt.Errorf("postgres: plugin delete %q: %w", name, mapError(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: plugin delete %q: %w", name, store.ErrNotFound)
	}
	return nil
}
