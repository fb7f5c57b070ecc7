package backend

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/deadline"
	"github.com/junctionhq/junction/internal/store/postgres"
	"github.com/junctionhq/junction/internal/store/sqlite"
)

// DefaultSQLitePath is the SQLite file used when no database URL is given, relative to
// the working directory.
const DefaultSQLitePath = "junction.db"

// acceptedForms is quoted in errors, so a wrong setting says what a right one looks like.
const acceptedForms = "postgres://… or postgresql://… for PostgreSQL; " +
	"sqlite:PATH, sqlite://PATH, file:PATH, a plain file path, or empty (" + DefaultSQLitePath + ") for SQLite"

// schemeRE matches a URL scheme. Two characters at least, so that a Windows drive letter
// ("C:\junction.db") still counts as a plain path.
var schemeRE = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]+):`)

// target is what a database URL resolves to.
type target struct {
	backend  string // "sqlite" or "postgres"
	location string // the SQLite file path, or the PostgreSQL URL as given
}

// parse decides the backend without touching any database.
func parse(databaseURL string) (target, error) {
	if databaseURL == "" {
		return target{"sqlite", DefaultSQLitePath}, nil
	}
	m := schemeRE.FindStringSubmatch(databaseURL)
	if m == nil {
		return target{"sqlite", databaseURL}, nil
	}
	scheme, rest := strings.ToLower(m[1]), databaseURL[len(m[0]):]
	switch scheme {
	case "postgres", "postgresql":
		if !strings.HasPrefix(rest, "//") {
			return target{}, fmt.Errorf("database URL: %s URLs start with %s://; accepted: %s", scheme, scheme, acceptedForms)
		}
		return target{"postgres", databaseURL}, nil
	case "sqlite", "file":
		// sqlite:///abs/path and sqlite://rel/path are both common spellings.
		path := strings.TrimPrefix(rest, "//")
		if path == "" {
			return target{}, fmt.Errorf("database URL: %s: has no file path; accepted: %s", scheme, acceptedForms)
		}
		return target{"sqlite", path}, nil
	}
	// Only the scheme is quoted: the rest may hold a password.
	return target{}, fmt.Errorf("database URL: unsupported scheme %q; accepted: %s", scheme, acceptedForms)
}

// Validate reports what is wrong with databaseURL, without touching any database, so a
// command can refuse a mistyped setting before it does anything else.
func Validate(databaseURL string) error {
	_, err := parse(databaseURL)
	return err
}

// Open opens the store databaseURL names (see the package doc for the accepted forms).
// It does not migrate; call MigrateUp. Every call of the store it returns runs under a
// deadline, and failures of the database carry store.ErrUnavailable (package deadline).
func Open(ctx context.Context, databaseURL string) (store.Store, error) {
	t, err := parse(databaseURL)
	if err != nil {
		return nil, err
	}
	if t.backend == "postgres" {
		s, err := postgres.Open(ctx, t.location)
		if err != nil {
			return nil, err
		}
		return deadline.New(s, s.Unavailable, deadline.Timeouts{}), nil
	}
	s, err := sqlite.Open(ctx, t.location)
	if err != nil {
		return nil, err
	}
	return deadline.New(s, s.Unavailable, deadline.Timeouts{}), nil
}

// SQLite reports whether databaseURL names a SQLite database: a store one process
// uses, so one node of a cluster at most.
func SQLite(databaseURL string) bool {
	t, err := parse(databaseURL)
	return err == nil && t.backend == "sqlite"
}

// Describe returns databaseURL as a log line may show it: the backend and where it is,
// with any password removed, e.g. "sqlite junction.db" or
// "postgres postgres://user@127.0.0.1:5432/test".
func Describe(databaseURL string) string {
	t, err := parse(databaseURL)
	if err != nil {
		return "(invalid database URL)" // Open and Validate say what is wrong with it
	}
	if t.backend == "sqlite" {
		return "sqlite " + t.location
	}
	u, err := url.Parse(t.location)
	if err != nil {
		// url's error quotes the whole URL, password included.
		return "postgres (unparseable URL)"
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	q := u.Query()
	removed := false
	for k := range q {
		// password and sslpassword; keys are case-sensitive to libpq, but be generous.
		if strings.Contains(strings.ToLower(k), "password") {
			q.Del(k)
			removed = true
		}
	}
	if removed {
		u.RawQuery = q.Encode()
	}
	return "postgres " + u.String()
}

// ErrNoDatabase is returned by RequireExisting when the SQLite file it names is absent.
var ErrNoDatabase = errors.New("no database")

// RequireExisting fails with ErrNoDatabase when databaseURL names a SQLite file that does
// not exist. Commands that only read call it before Open, which would otherwise create an
// empty database in the working directory and answer from it, so that a token made
// against another database seems not to exist. The message names the absolute path
// looked at and how to point elsewhere. PostgreSQL URLs are not checked here: the server
// says itself when a database is missing.
func RequireExisting(databaseURL string) error {
	t, err := parse(databaseURL)
	if err != nil || t.backend != "sqlite" || t.location == sqliteMemory {
		return err
	}
	if _, err := os.Stat(t.location); !errors.Is(err, fs.ErrNotExist) {
		return nil // present, or a problem Open will report with its cause
	}
	abs, err := filepath.Abs(t.location)
	if err != nil {
		abs = t.location
	}
	return fmt.Errorf("%w: SQLite file %s does not exist; give the database to use with --database-url or DATABASE_URL (a file path or postgres://…), or create this one with 'junction migrate up' or 'junction serve'", ErrNoDatabase, abs)
}

// sqliteMemory is SQLite's name for a database that lives in memory only.
const sqliteMemory = ":memory:"
