package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/storeinput"
)

// Plugin storage (store.PluginStore).

// PluginPut implements store.Store.
func (s *Store) PluginPut(ctx context.Context, p store.Plugin) error {
	p, err := storeinput.NormalizePlugin(p)
	if err != nil {
		return fmt.Errorf("sqlite: plugin put: %w", err)
	}
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO plugins (name, manifest, module, sha256, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET manifest = excluded.manifest, module = excluded.module, sha256 = excluded.sha256, updated_at = excluded.updated_at`,
			p.Name, p.Manifest, p.Module, p.SHA256, formatTime(p.CreatedAt), formatTime(p.UpdatedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: plugin put %q: %w", p.Name, err)
	}
	return nil
}

// PluginGet implements store.Store.
func (s *Store) PluginGet(ctx context.Context, name string) (store.Plugin, error) {
	var p store.Plugin
	err := s.read.QueryRowContext(ctx, `SELECT name, manifest, module, sha256, created_at, updated_at FROM plugins WHERE name = ?`, name).
		Scan(&p.Name, &p.Manifest, &p.Module, &p.SHA256, textTime{&p.CreatedAt}, textTime{&p.UpdatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return store.Plugin{}, fmt.Errorf("sqlite: plugin get %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return store.Plugin{}, fmt.Errorf("sqlite: plugin get %q: %w", name, err)
	}
	return p, nil
}

// PluginList implements store.Store.
func (s *Store) PluginList(ctx context.Context) ([]store.Plugin, error) {
	out, err := queryAll(ctx, s.read, `SELECT name, manifest, sha256, created_at, updated_at FROM plugins ORDER BY name`,
		func(row scanner) (store.Plugin, error) {
			var p store.Plugin
			err := row.Scan(&p.Name, &p.Manifest, &p.SHA256, textTime{&p.CreatedAt}, textTime{&p.UpdatedAt})
			return p, err
		})
	if err != nil {
		return nil, fmt.Errorf("sqlite: plugin list: %w", err)
	}
	return out, nil
}

// PluginDelete implements store.Store.
func (s *Store) PluginDelete(ctx context.Context, name string) error {
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM plugins WHERE name = ?`, name)
		return oneRow(res, err)
	})
	if err != nil {
		return fmt.Errorf("sqlite: plugin delete %q: %w", name, err)
	}
	return nil
}
