package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/storeinput"
)

// Cluster storage (store.ClusterStore): nodes and leases. SQLite serves one node, but
// the same calls run here so that `serve` does the same on either backend; a lease is
// taken in one write transaction on the single write connection.

var (
	leaseColumns = []string{"name", "holder", "acquired_at", "expires_at"}
	nodeColumns  = []string{"id", "address", "version", "config_version", "started_at", "heartbeat_at", "stopped_at"}
)

// LeaseAcquire implements store.Store.
func (s *Store) LeaseAcquire(ctx context.Context, p store.LeaseAcquireParams) (store.Lease, bool, error) {
	p, err := storeinput.NormalizeLeaseAcquire(p)
	if err != nil {
		return store.Lease{}, false, fmt.Errorf("sqlite: lease acquire: %w", err)
	}
	var out store.Lease
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		// Text times in the sortable layout compare as the times do.
		_, err := tx.ExecContext(ctx, `INSERT INTO cluster_leases (`+columns("", leaseColumns)+`) VALUES (?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET
				acquired_at = CASE WHEN cluster_leases.holder = excluded.holder THEN cluster_leases.acquired_at ELSE excluded.acquired_at END,
				holder = excluded.holder,
				expires_at = excluded.expires_at
			WHERE cluster_leases.holder = excluded.holder OR cluster_leases.expires_at <= excluded.acquired_at`,
			p.Name, p.Holder, formatTime(p.Now), formatTime(p.Now.Add(p.TTL)))
		if err != nil {
			return err
		}
		out, err = scanLease(tx.QueryRowContext(ctx, `SELECT `+columns("", leaseColumns)+` FROM cluster_leases WHERE name = ?`, p.Name))
		return err
	})
	if err != nil {
		return store.Lease{}, false, fmt.Errorf("sqlite: lease acquire %q: %w", p.Name, err)
	}
	return out, out.Holder == p.Holder && out.ExpiresAt.After(p.Now), nil
}

// LeaseRelease implements store.Store.
func (s *Store) LeaseRelease(ctx context.Context, name, holder string) (bool, error) {
	var released bool
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM cluster_leases WHERE name = ? AND holder = ?`, name, holder)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		released = n == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: lease release %q: %w", name, err)
	}
	return released, nil
}

// LeaseList implements store.Store.
func (s *Store) LeaseList(ctx context.Context) ([]store.Lease, error) {
	out, err := queryAll(ctx, s.read, `SELECT `+columns("", leaseColumns)+` FROM cluster_leases ORDER BY name`, scanLease)
	if err != nil {
		return nil, fmt.Errorf("sqlite: lease list: %w", err)
	}
	return out, nil
}

// NodeRegister implements store.Store.
func (s *Store) NodeRegister(ctx context.Context, n store.Node) error {
	n, err := storeinput.NormalizeNode(n)
	if err != nil {
		return fmt.Errorf("sqlite: node register: %w", err)
	}
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO cluster_nodes (`+columns("", nodeColumns)+`) VALUES (?, ?, ?, ?, ?, ?, NULL)
			ON CONFLICT (id) DO UPDATE SET address = excluded.address, version = excluded.version,
				config_version = excluded.config_version, started_at = excluded.started_at,
				heartbeat_at = excluded.heartbeat_at, stopped_at = NULL`,
			n.ID, n.Address, n.Version, n.ConfigVersion, formatTime(n.StartedAt), formatTime(n.HeartbeatAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: node register %q: %w", n.ID, err)
	}
	return nil
}

// NodeHeartbeat implements store.Store.
func (s *Store) NodeHeartbeat(ctx context.Context, p store.NodeHeartbeatParams) error {
	p, err := storeinput.NormalizeNodeHeartbeat(p)
	if err != nil {
		return fmt.Errorf("sqlite: node heartbeat: %w", err)
	}
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE cluster_nodes SET heartbeat_at = ?, config_version = ? WHERE id = ?`,
			formatTime(p.At), p.ConfigVersion, p.ID)
		return oneRow(res, err)
	})
	if err != nil {
		return fmt.Errorf("sqlite: node heartbeat %q: %w", p.ID, err)
	}
	return nil
}

// NodeStop implements store.Store.
func (s *Store) NodeStop(ctx context.Context, id string, at time.Time) error {
	if err := store.CheckTime(at); err != nil {
		return fmt.Errorf("sqlite: node stop: %w", err)
	}
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE cluster_nodes SET stopped_at = ? WHERE id = ?`, formatTime(at), id)
		return oneRow(res, err)
	})
	if err != nil {
		return fmt.Errorf("sqlite: node stop %q: %w", id, err)
	}
	return nil
}

// NodeList implements store.Store.
func (s *Store) NodeList(ctx context.Context) ([]store.Node, error) {
	out, err := queryAll(ctx, s.read, `SELECT `+columns("", nodeColumns)+` FROM cluster_nodes ORDER BY started_at, id`, scanNode)
	if err != nil {
		return nil, fmt.Errorf("sqlite: node list: %w", err)
	}
	return out, nil
}

// NodePrune implements store.Store.
func (s *Store) NodePrune(ctx context.Context, before time.Time) (int, error) {
	if err := store.CheckTime(before); err != nil {
		return 0, fmt.Errorf("sqlite: node prune: %w", err)
	}
	n, err := s.writeExec(ctx, `DELETE FROM cluster_nodes WHERE heartbeat_at < ?`, formatTime(before))
	if err != nil {
		return 0, fmt.Errorf("sqlite: node prune: %w", err)
	}
	return int(n), nil
}

// queryAll runs a query and scans every row.
func queryAll[T any](ctx context.Context, db *sql.DB, query string, scan func(scanner) (T, error), args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func scanLease(row scanner) (store.Lease, error) {
	var l store.Lease
	err := row.Scan(&l.Name, &l.Holder, textTime{&l.AcquiredAt}, textTime{&l.ExpiresAt})
	if errors.Is(err, sql.ErrNoRows) {
		return store.Lease{}, nil // released between the upsert and the read: never taken
	}
	return l, err
}

func scanNode(row scanner) (store.Node, error) {
	var n store.Node
	err := row.Scan(&n.ID, &n.Address, &n.Version, &n.ConfigVersion, textTime{&n.StartedAt}, textTime{&n.HeartbeatAt}, nullTextTime{&n.StoppedAt})
	return n, err
}
