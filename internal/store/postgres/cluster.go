package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/storeinput"
)

// Cluster storage (store.ClusterStore): nodes and leases. A lease is taken with one
// INSERT … ON CONFLICT DO UPDATE … WHERE: PostgreSQL locks the conflicting row and
// evaluates the condition against its latest version, so of two nodes racing for a
// free or expired lease exactly one wins, and a holder's renewal cannot overwrite a
// lease another node has taken meanwhile.

var (
	leaseColumns = []string{"name", "holder", "acquired_at", "expires_at"}
	nodeColumns  = []string{"id", "address", "version", "config_version", "started_at", "heartbeat_at", "stopped_at"}
)

// LeaseAcquire implements store.Store.
func (s *Store) LeaseAcquire(ctx context.Context, p store.LeaseAcquireParams) (store.Lease, bool, error) {
	p, err := storeinput.NormalizeLeaseAcquire(p)
	if err != nil {
		return store.Lease{}, false, fmt.Errorf("postgres: lease acquire: %w", err)
	}
	l, err := scanLease(s.pool.QueryRow(ctx, `INSERT INTO cluster_leases (`+columns("", leaseColumns)+`) VALUES ($1, $2, $3, $4)
		ON CONFLICT (name) DO UPDATE SET
			acquired_at = CASE WHEN cluster_leases.holder = excluded.holder THEN cluster_leases.acquired_at ELSE excluded.acquired_at END,
			holder = excluded.holder,
			expires_at = excluded.expires_at
		WHERE cluster_leases.holder = excluded.holder OR cluster_leases.expires_at <= excluded.acquired_at
		RETURNING `+columns("", leaseColumns), p.Name, p.Holder, p.Now, p.Now.Add(p.TTL)))
	if err == nil {
		return l, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return store.Lease{}, false, fmt.Errorf("postgres: lease acquire %q: %w", p.Name, mapError(err))
	}
	// Another node holds it: say which.
	l, err = scanLease(s.pool.QueryRow(ctx, `SELECT `+columns("", leaseColumns)+` FROM cluster_leases WHERE name = $1`, p.Name))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return store.Lease{}, false, nil // released meanwhile
	case err != nil:
		return store.Lease{}, false, fmt.Errorf("postgres: lease acquire %q: %w", p.Name, mapError(err))
	}
	return l, false, nil
}

// LeaseRelease implements store.Store.
func (s *Store) LeaseRelease(ctx context.Context, name, holder string) (bool, error) {
	if !storeinput.Key(name) || !storeinput.Key(holder) {
		return false, nil
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM cluster_leases WHERE name = $1 AND holder = $2`, name, holder)
	if err != nil {
		return false, fmt.Errorf("postgres: lease release %q: %w", name, mapError(err))
	}
	return tag.RowsAffected() == 1, nil
}

// LeaseList implements store.Store.
func (s *Store) LeaseList(ctx context.Context) ([]store.Lease, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+columns("", leaseColumns)+` FROM cluster_leases ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("postgres: lease list: %w", mapError(err))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Lease, error) { return scanLease(row) })
	if err != nil {
		return nil, fmt.Errorf("postgres: lease list: %w", mapError(err))
	}
	return out, nil
}

// NodeRegister implements store.Store.
func (s *Store) NodeRegister(ctx context.Context, n store.Node) error {
	n, err := storeinput.NormalizeNode(n)
	if err != nil {
		return fmt.Errorf("postgres: node register: %w", err)
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO cluster_nodes (`+columns("", nodeColumns)+`) VALUES ($1, $2, $3, $4, $5, $6, NULL)
		ON CONFLICT (id) DO UPDATE SET address = excluded.address, version = excluded.version,
			config_version = excluded.config_version, started_at = excluded.started_at,
			heartbeat_at = excluded.heartbeat_at, stopped_at = NULL`,
		n.ID, n.Address, n.Version, n.ConfigVersion, n.StartedAt, n.HeartbeatAt)
	if err != nil {
		return fmt.Errorf("postgres: node register %q: %w", n.ID, mapError(err))
	}
	return nil
}

// NodeHeartbeat implements store.Store.
func (s *Store) NodeHeartbeat(ctx context.Context, p store.NodeHeartbeatParams) error {
	p, err := storeinput.NormalizeNodeHeartbeat(p)
	if err != nil {
		return fmt.Errorf("postgres: node heartbeat: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE cluster_nodes SET heartbeat_at = $1, config_version = $2 WHERE id = $3`,
		p.At, p.ConfigVersion, p.ID)
	switch {
	case err != nil:
		return fmt.Errorf("postgres: node heartbeat %q: %w", p.ID, mapError(err))
	case tag.RowsAffected() == 0:
		return fmt.Errorf("postgres: node heartbeat %q: %w", p.ID, store.ErrNotFound)
	}
	return nil
}

// NodeStop implements store.Store.
func (s *Store) NodeStop(ctx context.Context, id string, at time.Time) error {
	if err := store.CheckTime(at); err != nil {
		return fmt.Errorf("postgres: node stop: %w", err)
	}
	if !storeinput.Key(id) {
		return fmt.Errorf("postgres: node stop %q: %w", id, store.ErrNotFound)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE cluster_nodes SET stopped_at = $1 WHERE id = $2`, store.NormalizeTime(at), id)
	switch {
	case err != nil:
		return fmt.Errorf("postgres: node stop %q: %w", id, mapError(err))
	case tag.RowsAffected() == 0:
		return fmt.Errorf("postgres: node stop %q: %w", id, store.ErrNotFound)
	}
	return nil
}

// NodeList implements store.Store.
func (s *Store) NodeList(ctx context.Context) ([]store.Node, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+columns("", nodeColumns)+` FROM cluster_nodes ORDER BY started_at, id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: node list: %w", mapError(err))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Node, error) { return scanNode(row) })
	if err != nil {
		return nil, fmt.Errorf("postgres: node list: %w", mapError(err))
	}
	return out, nil
}

// NodePrune implements store.Store.
func (s *Store) NodePrune(ctx context.Context, before time.Time) (int, error) {
	if err := store.CheckTime(before); err != nil {
		return 0, fmt.Errorf("postgres: node prune: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM cluster_nodes WHERE heartbeat_at < $1`, store.NormalizeTime(before))
	if err != nil {
		return 0, fmt.Errorf("postgres: node prune: %w", mapError(err))
	}
	return int(tag.RowsAffected()), nil
}

func scanLease(row pgx.Row) (store.Lease, error) {
	var l store.Lease
	err := row.Scan(&l.Name, &l.Holder, &l.AcquiredAt, &l.ExpiresAt)
	l.AcquiredAt, l.ExpiresAt = l.AcquiredAt.UTC(), l.ExpiresAt.UTC()
	return l, err
}

func scanNode(row pgx.Row) (store.Node, error) {
	var n store.Node
	err := row.Scan(&n.ID, &n.Address, &n.Version, &n.ConfigVersion, &n.StartedAt, &n.HeartbeatAt, &n.StoppedAt)
	n.StartedAt, n.HeartbeatAt = n.StartedAt.UTC(), n.HeartbeatAt.UTC()
	if n.StoppedAt != nil {
		t := n.StoppedAt.UTC()
		n.StoppedAt = &t
	}
	return n, err
}
