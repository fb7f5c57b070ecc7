package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/storeinput"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

var _ store.Store = (*Store)(nil)

// timeLayout is how times are stored: TEXT, always UTC, always six fractional digits.
// The fixed width makes text order equal time order (so ORDER BY created_at works), and
// microseconds are what PostgreSQL keeps, so both backends return the same values.
const timeLayout = "2006-01-02T15:04:05.000000Z07:00"

// memoryPath opens a private in-memory database, useful in tests of other packages.
const memoryPath = ":memory:"

// Store is a store.Store on one SQLite file.
//
// SQLite allows one writer at a time, so writes and reads use separate pools. The write
// pool has exactly one connection: concurrent writers queue in Go instead of spinning in
// SQLite's busy handler, and a transaction can never wait on a lock held by another
// connection of the same process. Every write runs in a transaction begun with
// BEGIN IMMEDIATE (_txlock=immediate), which takes the file's write lock up front, so a
// transaction that reads before it writes cannot fail with SQLITE_BUSY when another
// process (a CLI next to the server) committed in between: it waits up to busy_timeout
// for the lock instead. WAL lets the read pool's connections read during a write.
type Store struct {
	pub      publishQueue // group commit of EventPublish
	write    *sql.DB
	read     *sql.DB
	migrator *goose.Provider
	closed   atomic.Bool // after Close every error is the store's, not the request's
}

// busyTimeoutMillis is how long a statement waits for a lock another process holds (a
// CLI writing next to the server, a checkpoint) before failing with SQLITE_BUSY. A
// caller's context interrupts the wait sooner; the group commit of EventPublish runs on
// a context of its own (its answer must say whether the event was stored), so this is
// what bounds a publish on a database locked for good. It matches the store deadline of
// ordinary calls (package deadline), so a locked database answers in seconds.
const busyTimeoutMillis = 5000

// Open opens (creating if needed) the SQLite database at path and checks that it can be
// read and written. It does not migrate; call MigrateUp. ":memory:" gives a private
// in-memory database that lives until Close.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: open: empty path")
	}
	write, err := openPool(ctx, path, url.Values{
		"_pragma": {
			fmt.Sprintf("busy_timeout(%d)", busyTimeoutMillis),
			"journal_mode(WAL)",
			"foreign_keys(1)",
			// In WAL mode NORMAL may lose the last commits on power loss; FULL syncs the
			// WAL on every commit, which "durable before acknowledged" needs.
			"synchronous(FULL)",
		},
		"_txlock": {"immediate"},
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	s := &Store{write: write, read: write}

	// An in-memory database exists once per connection, so it must share the one.
	if path != memoryPath {
		// The write pool is open, so the file is already in WAL mode: readers need
		// only wait for locks and must never write.
		s.read, err = openPool(ctx, path, url.Values{
			// Readers map the file (up to 256 MiB) instead of copying every page they
			// read with a system call into a 2 MB per-connection cache: a month's report
			// reads tens of MB, again on every request.
			"_pragma": {fmt.Sprintf("busy_timeout(%d)", busyTimeoutMillis), "query_only(1)", "mmap_size(268435456)"},
		})
		if err != nil {
			_ = write.Close()
			return nil, fmt.Errorf("sqlite: open %s for reading: %w", path, err)
		}
		s.read.SetMaxOpenConns(max(4, runtime.NumCPU()))
	}

	migrations, err := fs.Sub(migrationFiles, "migrations")
	if err == nil {
		// goose runs everything on one *sql.Conn, so a one-connection pool is fine; the
		// global registry stays off so no Go migration registered elsewhere leaks in.
		s.migrator, err = goose.NewProvider(goose.DialectSQLite3, s.write, migrations,
			goose.WithDisableGlobalRegistry(true))
	}
	if err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("sqlite: load migrations: %w", err)
	}
	return s, nil
}

// openPool opens a pool on path with the given driver parameters and makes its first
// connection, so bad paths and pragmas fail here rather than on first use.
func openPool(ctx context.Context, path string, params url.Values) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn(path, params))
	if err != nil {
		return nil, err
	}
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

// uriEscaper escapes what a file: URI would otherwise read as an escape, the start of
// the parameters, or a fragment.
var uriEscaper = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")

// dsn builds a file: URI so any path, even one containing '?', reaches SQLite intact.
// filepath.Clean turns a leading "//" into "/", which a URI would read as a host.
func dsn(path string, params url.Values) string {
	return "file:" + uriEscaper.Replace(filepath.Clean(path)) + "?" + params.Encode()
}

// Backend implements store.Store.
func (s *Store) Backend() string { return "sqlite" }

// Ping implements store.Store. It runs a query because database/sql's Ping only proves
// that a connection exists.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.read.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Close implements store.Store. Closing twice is harmless.
func (s *Store) Close() error {
	s.closed.Store(true)
	var errs []error
	if s.read != s.write {
		errs = append(errs, s.read.Close())
	}
	errs = append(errs, s.write.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// MigrateUp implements store.Store.
func (s *Store) MigrateUp(ctx context.Context) ([]store.Migration, error) {
	results, err := s.migrator.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlite: migrate up: %w", err)
	}
	status, err := s.MigrateStatus(ctx)
	if err != nil {
		return nil, err
	}
	return appliedNow(results, status), nil
}

// MigrateStatus implements store.Store.
func (s *Store) MigrateStatus(ctx context.Context) ([]store.Migration, error) {
	status, err := s.migrator.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlite: migrate status: %w", err)
	}
	return fromGoose(status), nil
}

// TokenCreate implements store.Store.
func (s *Store) TokenCreate(ctx context.Context, p store.TokenCreateParams) (store.Token, error) {
	t, err := store.NewToken(p)
	if err != nil {
		return store.Token{}, fmt.Errorf("sqlite: token create: %w", err)
	}
	err = s.writeTx(ctx, func(tx *sql.Tx) error { return insertToken(ctx, tx, t) })
	if err != nil {
		return store.Token{}, fmt.Errorf("sqlite: token create %q: %w", t.ID, err)
	}
	return t, nil
}

// TokenCreateIfNone implements store.Store. The check and the insert share one
// BEGIN IMMEDIATE transaction, which holds the write lock of the file throughout.
func (s *Store) TokenCreateIfNone(ctx context.Context, p store.TokenCreateParams) (bool, error) {
	t, err := store.NewToken(p)
	if err != nil {
		return false, fmt.Errorf("sqlite: token create if none: %w", err)
	}
	created := false
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		var exists bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM tokens)`).Scan(&exists); err != nil {
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
		return false, fmt.Errorf("sqlite: token create if none %q: %w", t.ID, err)
	}
	return created, nil
}

// TokenGetByHash implements store.Store.
func (s *Store) TokenGetByHash(ctx context.Context, hash []byte) (store.Token, error) {
	row := s.read.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE hash = ?`, hash)
	t, err := scanToken(row)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Token{}, fmt.Errorf("sqlite: token get by hash: %w", err)
	}
	return t, nil
}

// TokenList implements store.Store. Ties in creation time are broken by ID so the order
// is stable.
func (s *Store) TokenList(ctx context.Context) ([]store.Token, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+tokenColumns+` FROM tokens ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: token list: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var tokens []store.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: token list: %w", err)
		}
		tokens = append(tokens, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: token list: %w", err)
	}
	return tokens, nil
}

// TokenRevoke implements store.Store. COALESCE keeps the first revocation time.
func (s *Store) TokenRevoke(ctx context.Context, id string, at time.Time) error {
	if !storeinput.Key(id) {
		return fmt.Errorf("sqlite: token revoke %q: %w", id, store.ErrNotFound)
	}
	if err := store.CheckTime(at); err != nil {
		return fmt.Errorf("sqlite: token revoke %q: %w", id, err)
	}
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, formatTime(at), id)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: token revoke %q: %w", id, err)
	}
	return nil
}

// writeExec runs one statement in a write transaction and returns how many rows it
// changed.
func (s *Store) writeExec(ctx context.Context, query string, args ...any) (int64, error) {
	var n int64
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// writeTx runs fn in a transaction on the single write connection (see Store) and maps
// constraint violations onto store.ErrConflict.
func (s *Store) writeTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			err = errors.Join(err, fmt.Errorf("rollback: %w", rbErr))
		}
		return mapError(err)
	}
	return mapError(tx.Commit())
}

// mapError keeps the driver's message (it names the violated column) and adds the
// sentinel callers branch on.
func mapError(err error) error {
	var sqliteErr *sqlite.Error
	if errors.As(err, &sqliteErr) {
		switch sqliteErr.Code() {
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			return fmt.Errorf("%w: %w", store.ErrConflict, err)
		}
	}
	return err
}

// Unavailable reports whether err, from one of s's methods, is a failure of the
// database rather than of the request: the file is locked by another process, read-only,
// full, unreadable or corrupt, a statement was interrupted, or the store is closed. The
// same call may succeed later. Errors the input or the statement causes (constraint
// violations, type mismatches, missing tables) are not.
func (s *Store) Unavailable(err error) bool {
	if err == nil {
		return false
	}
	if s.closed.Load() {
		return true
	}
	if sqliteErr, ok := errors.AsType[*sqlite.Error](err); ok {
		switch sqliteErr.Code() & 0xff { // the primary result code
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL,
			sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_NOMEM,
			sqlite3.SQLITE_INTERRUPT, sqlite3.SQLITE_PROTOCOL, sqlite3.SQLITE_NOLFS,
			sqlite3.SQLITE_PERM, sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
			return true
		}
		return false
	}
	return errors.Is(err, sql.ErrConnDone) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, context.DeadlineExceeded)
}

const tokenColumns = `id, name, role, hash, created_at, revoked_at`

func insertToken(ctx context.Context, tx *sql.Tx, t store.Token) error {
	_, err := tx.ExecContext(ctx,
		`INSERT INTO tokens (id, name, role, hash, created_at) VALUES (?, ?, ?, ?, ?)`,
		t.ID, t.Name, string(t.Role), t.Hash, formatTime(t.CreatedAt))
	return err
}

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface{ Scan(dest ...any) error }

// scanToken reads one row selected with tokenColumns.
func scanToken(row scanner) (store.Token, error) {
	var (
		t               store.Token
		role, createdAt string
		revokedAt       sql.NullString
	)
	if err := row.Scan(&t.ID, &t.Name, &role, &t.Hash, &createdAt, &revokedAt); err != nil {
		return store.Token{}, err
	}
	t.Role = store.Role(role)
	var err error
	if t.CreatedAt, err = parseTime(createdAt); err != nil {
		return store.Token{}, fmt.Errorf("token %q: created_at: %w", t.ID, err)
	}
	if revokedAt.Valid {
		at, err := parseTime(revokedAt.String)
		if err != nil {
			return store.Token{}, fmt.Errorf("token %q: revoked_at: %w", t.ID, err)
		}
		t.RevokedAt = &at
	}
	return t, nil
}

func formatTime(t time.Time) string { return store.NormalizeTime(t).Format(timeLayout) }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
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
