package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/storeinput"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

var _ store.Store = (*Store)(nil)

// uniqueViolation is the SQLSTATE of a duplicate key.
const uniqueViolation = "23505"

// Store is a store.Store on a PostgreSQL database, in the schema its DSN's search_path
// selects (by default "public").
type Store struct {
	pool   *pgxpool.Pool
	closed atomic.Bool // after Close every error is the store's, not the request's
	stats  statsKeeper // keeps the deliveries table's planner statistics fresh (analyze.go)
	// publish commits concurrent EventPublish calls together (publish.go).
	publish publishGroup
}

// PoolMaxConnsDefault is the connection pool's size unless the DSN sets pool_max_conns.
const PoolMaxConnsDefault = 16

// ConnectTimeoutDefault bounds making one connection (dial, TLS, start-up, authentication)
// unless the DSN sets connect_timeout. pgx has no limit of its own, and the pool makes
// connections on a context of its own rather than the caller's: without one, a server that
// accepts connections but never answers would keep every slot of the pool in "connecting"
// for good, and Open would never return.
const ConnectTimeoutDefault = 5 * time.Second

// Open connects to the PostgreSQL database dsn names (a postgres:// URL or a keyword/value
// string) and checks that it answers. It does not migrate; call MigrateUp.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message already hides the password.
		return nil, fmt.Errorf("postgres: parse DSN: %w", err)
	}
	// goose records applied times as "timestamp DEFAULT now()", which is the session's
	// local time; a UTC session makes them read back right whatever the server's
	// TimeZone. Our own columns are timestamptz and do not depend on it.
	for k := range cfg.ConnConfig.RuntimeParams {
		if strings.EqualFold(k, "timezone") {
			delete(cfg.ConnConfig.RuntimeParams, k)
		}
	}
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	// pgx's default pool is max(4, CPUs) connections: too few for a server whose HTTP
	// handlers, delivery dispatcher and recorder all write at once. pool_max_conns in the
	// DSN still wins.
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = PoolMaxConnsDefault
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = ConnectTimeoutDefault
	}
	// A query in flight when its context ends returns at once: pgx's default context
	// watcher sets a past deadline on the socket, then closes the connection and sends the
	// server a cancel request in the background, so a server that stopped answering
	// cannot hold the caller (TestBlackHoleReturnsAtDeadline). Idle connections are
	// pinged when taken from the pool after a second of rest, under the caller's
	// context too. TCP keep-alives are Go's defaults (on, 15 s).

	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, connectError(err)
	}
	return &Store{pool: pool}, nil
}

// connectError says once why PostgreSQL could not be reached. pgx reports every attempt
// (each address a host resolves to, with TLS and again without for sslmode=prefer), so
// the same "connection refused" would otherwise be printed two or more times.
func connectError(err error) error {
	ce, ok := errors.AsType[*pgconn.ConnectError](err)
	if !ok {
		return fmt.Errorf("postgres: connect: %w", err)
	}
	attempts := []error{ce.Unwrap()}
	if joined, ok := ce.Unwrap().(interface{ Unwrap() []error }); ok {
		attempts = joined.Unwrap()
	}
	var reasons []string
	for _, a := range attempts {
		if msg := a.Error(); !slices.Contains(reasons, msg) {
			reasons = append(reasons, msg)
		}
	}
	return &connectFailure{
		msg: fmt.Sprintf("postgres: cannot connect as user=%s database=%s: %s", ce.Config.User, ce.Config.Database, strings.Join(reasons, "; ")),
		err: err,
	}
}

// connectFailure keeps the pgx error for errors.Is/As under a shorter message.
type connectFailure struct {
	msg string
	err error
}

func (e *connectFailure) Error() string { return e.msg }
func (e *connectFailure) Unwrap() error { return e.err }

// Backend implements store.Store.
func (s *Store) Backend() string { return "postgres" }

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close implements store.Store. Closing twice is harmless.
func (s *Store) Close() error {
	s.stats.mu.Lock()
	s.publish.mu.Lock()
	s.closed.Store(true)
	s.publish.mu.Unlock()
	s.stats.mu.Unlock()
	s.stopStats()
	s.stopPublishing()
	s.pool.Close()
	return nil
}

// Unavailable reports whether err, from one of s's methods, is a failure of the
// database or of the way to it (refused, reset or dropped connections, timeouts, a
// server shutting down, out of resources, a serialization failure, a read-only standby,
// the store closed) rather than of the request: the same call may well succeed later.
// Errors the input or the statement causes (invalid data, constraint violations,
// undefined tables) are not.
func (s *Store) Unavailable(err error) bool {
	if err == nil {
		return false
	}
	if s.closed.Load() {
		return true
	}
	// Checked before PgError: a refused login (a changed password) is the database
	// being out of reach as well.
	if _, ok := errors.AsType[*pgconn.ConnectError](err); ok {
		return true
	}
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		return unavailableState(pgErr.Code)
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return true
	}
	return pgconn.Timeout(err) || pgconn.SafeToRetry(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, context.DeadlineExceeded)
}

// unavailableState reports whether a SQLSTATE says the server cannot do the work now,
// whatever the input.
func unavailableState(code string) bool {
	switch code {
	case "25006", // read-only transaction: a standby, after a failover
		"55P03", // lock not available
		"55006": // object in use
		return true
	}
	if len(code) < 2 {
		return false
	}
	switch code[:2] {
	case "08", // connection exception
		"28", // invalid authorization: the login is refused
		"40", // transaction rollback: serialization failure, deadlock
		"53", // insufficient resources: disk full, out of memory, too many connections
		"57", // operator intervention: statement timeout, shutdown, cannot connect now
		"58", // system error: I/O
		"XX": // internal error, data corrupted
		return true
	}
	return false
}

// MigrateUp implements store.Store.
func (s *Store) MigrateUp(ctx context.Context) ([]store.Migration, error) {
	var applied []store.Migration
	err := s.withMigrator(ctx, func(p *goose.Provider) error {
		results, err := p.Up(ctx)
		if err != nil {
			return fmt.Errorf("migrate up: %w", err)
		}
		status, err := p.Status(ctx)
		if err != nil {
			return fmt.Errorf("migrate status: %w", err)
		}
		applied = appliedNow(results, fromGoose(status))
		return nil
	})
	return applied, err
}

// MigrateStatus implements store.Store.
func (s *Store) MigrateStatus(ctx context.Context) ([]store.Migration, error) {
	var migrations []store.Migration
	err := s.withMigrator(ctx, func(p *goose.Provider) error {
		status, err := p.Status(ctx)
		if err != nil {
			return fmt.Errorf("migrate status: %w", err)
		}
		migrations = fromGoose(status)
		return nil
	})
	return migrations, err
}

// withMigrator runs fn with a goose provider on a database/sql view of the pool, closed
// afterwards. goose holds an advisory lock while it works, so Junction processes starting
// together migrate one after the other. The lock ID is derived from the schema, so
// databases shared by several schemas (test runs, staging next to production) do not wait
// on each other.
func (s *Store) withMigrator(ctx context.Context, fn func(*goose.Provider) error) error {
	var schema string
	if err := s.pool.QueryRow(ctx, `SELECT COALESCE(current_schema(), '')`).Scan(&schema); err != nil {
		return fmt.Errorf("postgres: current schema: %w", err)
	}
	id := fnv.New64a()
	_, _ = id.Write([]byte("junction migrations in schema " + schema))
	locker := advisoryLock(id.Sum64())

	migrations, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("postgres: load migrations: %w", err)
	}
	db := stdlib.OpenDBFromPool(s.pool)
	defer func() { _ = db.Close() }() // leaves the pool open
	// The global registry stays off so no Go migration registered elsewhere leaks in.
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations,
		goose.WithSessionLocker(locker), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("postgres: load migrations: %w", err)
	}
	if err := fn(p); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

// advisoryLock is a goose session locker that waits in pg_advisory_lock rather than
// polling pg_try_advisory_lock every second as goose's own does, so a process waiting
// for another's migrations goes on the moment they finish; the caller's ctx bounds the
// wait. A session that dies releases the lock with it.
type advisoryLock int64

func (l advisoryLock) SessionLock(ctx context.Context, conn *sql.Conn) error {
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, int64(l)); err != nil {
		return fmt.Errorf("take migration lock: %w", err)
	}
	return nil
}

func (l advisoryLock) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, int64(l)); err != nil {
		return fmt.Errorf("release migration lock: %w", err)
	}
	return nil
}

// TokenCreate implements store.Store.
func (s *Store) TokenCreate(ctx context.Context, p store.TokenCreateParams) (store.Token, error) {
	t, err := store.NewToken(p)
	if err != nil {
		return store.Token{}, fmt.Errorf("postgres: token create: %w", err)
	}
	if err := insertToken(ctx, s.pool, t); err != nil {
		return store.Token{}, fmt.Errorf("postgres: token create %q: %w", t.ID, mapError(err))
	}
	return t, nil
}

// TokenCreateIfNone implements store.Store. SHARE ROW EXCLUSIVE conflicts with itself
// and with the lock every INSERT takes, but not with reads: concurrent callers queue on
// it, and the check and the insert see the same table. Without it two READ COMMITTED
// transactions could both see an empty table and both insert.
func (s *Store) TokenCreateIfNone(ctx context.Context, p store.TokenCreateParams) (bool, error) {
	t, err := store.NewToken(p)
	if err != nil {
		return false, fmt.Errorf("postgres: token create if none: %w", err)
	}
	created := false
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE tokens IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tokens)`).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return nil
		}
		if err := insertToken(ctx, tx, t); err != nil {
			return err
		}
		created = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("postgres: token create if none %q: %w", t.ID, mapError(err))
	}
	return created, nil
}

// TokenGetByHash implements store.Store.
func (s *Store) TokenGetByHash(ctx context.Context, hash []byte) (store.Token, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE hash = $1`, hash))
	if err != nil {
		return store.Token{}, fmt.Errorf("postgres: token get by hash: %w", mapError(err))
	}
	return t, nil
}

// TokenList implements store.Store. Ties in creation time are broken by ID so the order
// is stable.
func (s *Store) TokenList(ctx context.Context) ([]store.Token, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+tokenColumns+` FROM tokens ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: token list: %w", err)
	}
	tokens, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Token, error) { return scanToken(row) })
	if err != nil {
		return nil, fmt.Errorf("postgres: token list: %w", err)
	}
	return tokens, nil
}

// TokenRevoke implements store.Store. COALESCE keeps the first revocation time.
func (s *Store) TokenRevoke(ctx context.Context, id string, at time.Time) error {
	if !storeinput.Key(id) {
		return fmt.Errorf("postgres: token revoke %q: %w", id, store.ErrNotFound)
	}
	if err := store.CheckTime(at); err != nil {
		return fmt.Errorf("postgres: token revoke %q: %w", id, err)
	}
	tag, err := s.pool.Exec(ctx,
		`UPDATE tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2`, store.NormalizeTime(at), id)
	if err != nil {
		return fmt.Errorf("postgres: token revoke %q: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: token revoke %q: %w", id, store.ErrNotFound)
	}
	return nil
}

// mapError keeps the driver's message (it names the violated constraint) and adds the
// sentinel callers branch on.
func mapError(err error) error {
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == uniqueViolation:
		return fmt.Errorf("%w: %w", store.ErrConflict, err)
	case errors.Is(err, pgx.ErrNoRows):
		return store.ErrNotFound
	}
	return err
}

const tokenColumns = `id, name, role, hash, created_at, revoked_at`

// execer is what the pool and a transaction have in common.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func insertToken(ctx context.Context, db execer, t store.Token) error {
	_, err := db.Exec(ctx,
		`INSERT INTO tokens (id, name, role, hash, created_at) VALUES ($1, $2, $3, $4, $5)`,
		t.ID, t.Name, string(t.Role), t.Hash, t.CreatedAt)
	return err
}

// scanToken reads one row selected with tokenColumns.
func scanToken(row pgx.Row) (store.Token, error) {
	var (
		t         store.Token
		role      string
		revokedAt *time.Time
	)
	if err := row.Scan(&t.ID, &t.Name, &role, &t.Hash, &t.CreatedAt, &revokedAt); err != nil {
		return store.Token{}, err
	}
	t.Role = store.Role(role)
	// pgx returns timestamptz in the process's local zone.
	t.CreatedAt = t.CreatedAt.UTC()
	if revokedAt != nil {
		at := revokedAt.UTC()
		t.RevokedAt = &at
	}
	return t, nil
}

// fromGoose converts goose's status list, which is already in version order.
func fromGoose(status []*goose.MigrationStatus) []store.Migration {
	out := make([]store.Migration, 0, len(status))
	for _, st := range status {
		m := store.Migration{Version: st.Source.Version, Name: filepath.Base(st.Source.Path)}
		if st.State == goose.StateApplied {
			at := st.AppliedAt.UTC()
			m.AppliedAt = &at
		}
		out = append(out, m)
	}
	return out
}

// appliedNow picks from status the migrations goose just applied, so they carry the
// applied time goose recorded.
func appliedNow(results []*goose.MigrationResult, status []store.Migration) []store.Migration {
	out := make([]store.Migration, 0, len(results))
	for _, r := range results {
		for _, m := range status {
			if m.Version == r.Source.Version {
				out = append(out, m)
			}
		}
	}
	return out
}
