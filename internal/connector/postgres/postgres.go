package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/ohler55/ojg/jp"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
)

// Defaults of the options (see doc.go).
const (
	PoolSizeDefault     = 8
	BatchSizeDefault    = 100
	PollIntervalDefault = time.Second
)

// Modes of a sink and of a source.
const (
	ModeInsert = "insert"
	ModeUpsert = "upsert"
	ModePoll   = "poll"
	ModeListen = "listen"
)

// CursorTable keeps the progress of polling sources, one row per source, in the database
// being polled (the first schema of the connection's search_path).
const CursorTable = "junction_flow_cursors"

// Kind is the postgres connector type: a sink that inserts or upserts JSON messages into
// a table, and a source that polls a table (or LISTENs on a channel).
func Kind() connector.Kind {
	return connector.Kind{
		Name:      "postgres",
		NewSource: NewSource,
		NewSink:   NewSink,
		Check:     Check,
	}
}

type role int

const (
	roleSink role = iota
	roleSource
	roleCheck // whatever the options describe
)

// options are the connector's settings, read once for either role.
type options struct {
	pool *pgxpool.Config

	table     string   // as written, for headers and messages
	tableName []string // its identifier parts (schema.table)
	mode      string

	// Sink.
	key     []string
	columns []column // in the order written

	// Poll source.
	cursor       string
	fields       []string // columns to deliver; nil = all
	where        string
	batchSize    int
	pollInterval time.Duration
	cursorName   string

	// Listen source.
	channel string
}

// column is one `column: "$.path"` entry of a sink.
type column struct {
	name string
	path string
	expr jp.Expr
	// singular paths select at most one value; others (wildcards, filters, slices …)
	// are written as the JSON array of everything they select.
	singular bool
}

func readOptions(s connector.Settings, as role) (*options, error) {
	if s.Connector == nil {
		return nil, errors.New("postgres connector: settings without a connector")
	}
	r := s.Reader()
	o := &options{}

	url := r.Value("url", true)
	poolSizeSet := r.Has("pool_size")
	poolSize := r.Int("pool_size", PoolSizeDefault)
	o.table = r.String("table", "", false)
	o.mode = r.String("mode", "", false)
	o.key = r.Strings("key")
	rawColumns, hasColumns := r.Any("columns")
	o.cursor = r.String("cursor", "", false)
	o.where = r.String("where", "", false)
	o.batchSize = r.Int("batch_size", BatchSizeDefault)
	o.pollInterval = r.Duration("poll_interval", PollIntervalDefault)
	o.cursorName = r.String("cursor_name", "", false)
	// The flow engine sets Settings.Flow, so each flow keeps its own cursor.
	flowName := r.String("name", s.Flow, false)
	o.channel = r.String("channel", "", false)

	if !url.IsZero() {
		if dsn, err := url.Resolve(s.Env.Lookup()); err != nil {
			r.Fail("url", "%v", err)
		} else if cfg, err := pgxpool.ParseConfig(dsn); err != nil {
			// pgconn's parse errors mask the password; the string is not printed otherwise.
			r.Fail("url", "not a PostgreSQL connection string: %v", err)
		} else {
			o.pool = cfg
		}
	}
	if poolSize < 1 {
		r.Fail("pool_size", "must be at least 1")
	}
	if o.pool != nil && (poolSizeSet || !hasParam(o.pool.ConnString(), "pool_max_conns")) {
		o.pool.MaxConns = int32(min(poolSize, 1<<20))
	}
	if o.pool != nil {
		if _, ok := o.pool.ConnConfig.RuntimeParams["application_name"]; !ok {
			o.pool.ConnConfig.RuntimeParams["application_name"] = "junction"
		}
	}
	if o.table != "" {
		name, err := splitTable(o.table)
		if err != nil {
			r.Fail("table", "%v", err)
		}
		o.tableName = name
	}
	if o.batchSize < 1 {
		r.Fail("batch_size", "must be at least 1")
	}
	if o.pollInterval <= 0 {
		r.Fail("poll_interval", "must be positive")
	}

	switch as {
	case roleSink:
		o.mode = cmp.Or(o.mode, ModeInsert)
		if o.mode != ModeInsert && o.mode != ModeUpsert {
			r.Fail("mode", "expected insert or upsert for a sink, found %q", o.mode)
		}
		if o.table == "" {
			r.Fail("table", "missing: the table to write to")
		}
		if !hasColumns {
			r.Fail("columns", `missing: the columns to write, such as { id: "$.id", doc: "$" }`)
		}
	case roleSource:
		o.mode = cmp.Or(o.mode, ModePoll)
		switch o.mode {
		case ModePoll:
			if o.table == "" {
				r.Fail("table", "missing: the table to poll")
			}
			if o.cursor == "" {
				r.Fail("cursor", "missing: a unique, increasing column such as id (bigserial) to poll in order")
			}
		case ModeListen:
			if o.channel == "" {
				r.Fail("channel", "missing: the channel to LISTEN on")
			}
		default:
			r.Fail("mode", "expected poll or listen for a source, found %q", o.mode)
		}
	}

	// columns is a map for a sink and a list for a source; Check accepts either.
	if hasColumns {
		switch v := rawColumns.(type) {
		case config.Options, map[string]any:
			if as == roleSource {
				r.Fail("columns", "expected a list of column names for a source")
				break
			}
			o.columns = readColumns(r, v)
		case []any, string:
			if as == roleSink {
				r.Fail("columns", `expected a block { column: "$.path" … } for a sink`)
				break
			}
			o.fields = r.Strings("columns")
		default:
			r.Fail("columns", "expected a block { column: \"$.path\" … } (sink) or a list of names (source), found %v", rawColumns)
		}
	}
	if as == roleSink || (as == roleCheck && o.columns != nil) {
		checkKey(r, o)
	}
	if o.cursorName == "" {
		o.cursorName = o.table + ":" + o.cursor
		if flowName != "" {
			o.cursorName = flowName + ":" + o.cursorName
		}
	}
	if err := r.Done(); err != nil {
		return nil, err
	}
	return o, nil
}

func readColumns(r *config.OptionReader, v any) []column {
	var entries []config.Option
	switch v := v.(type) {
	case config.Options:
		entries = v.Entries
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			entries = append(entries, config.Option{Key: k, Value: v[k]})
		}
	}
	if len(entries) == 0 {
		r.Fail("columns", "no columns given")
		return nil
	}
	out := make([]column, 0, len(entries))
	seen := map[string]bool{}
	for _, e := range entries {
		path, ok := e.Value.(string)
		if !ok {
			r.Fail("columns", "%s: expected a JSONPath string such as \"$.id\", found %v", e.Key, e.Value)
			return nil
		}
		if seen[e.Key] {
			r.Fail("columns", "%s is given twice", e.Key)
			return nil
		}
		seen[e.Key] = true
		if !strings.HasPrefix(path, "$") {
			r.Fail("columns", "%s: %q is not a JSONPath: it starts with $ (\"$\" is the whole message)", e.Key, path)
			return nil
		}
		x, err := jp.ParseString(path)
		if err != nil {
			r.Fail("columns", "%s: invalid JSONPath %q: %v", e.Key, path, err)
			return nil
		}
		out = append(out, column{name: e.Key, path: path, expr: x, singular: singular(x)})
	}
	return out
}

// singular reports whether a path names one place (children and indexes only).
func singular(x jp.Expr) bool {
	for _, f := range x {
		switch f.(type) {
		case jp.Root, jp.At, jp.Child, jp.Nth, jp.Bracket:
		default:
			return false
		}
	}
	return true
}

func checkKey(r *config.OptionReader, o *options) {
	if o.mode != ModeUpsert {
		if len(o.key) > 0 {
			r.Fail("key", "only used with mode: upsert")
		}
		return
	}
	if len(o.key) == 0 {
		r.Fail("key", `missing: upsert needs the conflict columns, such as key: ["id"]`)
		return
	}
	for _, k := range o.key {
		if !slices.ContainsFunc(o.columns, func(c column) bool { return c.name == k }) {
			r.Fail("key", "%s is not one of the columns", k)
			return
		}
	}
}

// splitTable splits "schema.table" into identifier parts; a dot always separates.
func splitTable(s string) ([]string, error) {
	parts := strings.Split(s, ".")
	if len(parts) > 3 {
		return nil, fmt.Errorf("%q: expected table or schema.table", s)
	}
	for _, p := range parts {
		if p == "" {
			return nil, fmt.Errorf("%q: expected table or schema.table", s)
		}
	}
	return parts, nil
}

func hasParam(connString, name string) bool {
	return strings.Contains(connString, name+"=")
}

func quote(parts ...string) string { return pgx.Identifier(parts).Sanitize() }

// tableColumn is a column as PostgreSQL knows it.
type tableColumn struct {
	typ  string // format_type: "numeric(10,2)", "timestamp with time zone", …
	json bool   // json or jsonb (or a domain over them)
}

// errNoTable says the table (or view) does not exist.
var errNoTable = errors.New("does not exist")

// queryer is what column lookups need of a pool or a connection.
type queryer interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// lookupColumns reads the table's columns from the catalog. It uses pg_attribute rather
// than information_schema: format_type gives the exact type to cast to (with typmods,
// arrays, domains and quoted user types), and the table is resolved through the
// connection's search_path exactly as the statements that use it will be.
func lookupColumns(ctx context.Context, q queryer, table []string) (map[string]tableColumn, error) {
	rows, err := q.Query(ctx, `
SELECT c.oid IS NOT NULL, a.attname, format_type(a.atttypid, a.atttypmod),
       coalesce(nullif(t.typbasetype, 0), t.oid) IN ('json'::regtype, 'jsonb'::regtype)
FROM (SELECT to_regclass($1) AS oid) c
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_type t ON t.oid = a.atttypid`, quote(table...))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols := map[string]tableColumn{}
	exists := false
	for rows.Next() {
		var name, typ *string
		var isJSON *bool
		if err := rows.Scan(&exists, &name, &typ, &isJSON); err != nil {
			return nil, err
		}
		if name != nil {
			cols[*name] = tableColumn{typ: *typ, json: isJSON != nil && *isJSON}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if !exists {
		return nil, errNoTable
	}
	return cols, nil
}

// missing lists the names that are not columns of the table.
func missing(cols map[string]tableColumn, names []string) []string {
	var out []string
	for _, n := range names {
		if _, ok := cols[n]; !ok && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

func missingColumnsError(table string, names []string) error {
	if len(names) == 1 {
		return fmt.Errorf("table %s has no column %q", table, names[0])
	}
	return fmt.Errorf("table %s has no columns %q", table, names)
}

// Check connects and runs SELECT 1; when the options name a table it checks that the
// table and the columns a sink writes (or a poll source reads) exist, naming what is
// missing.
func Check(ctx context.Context, s connector.Settings) error {
	o, err := readOptions(s, roleCheck)
	if err != nil {
		return err
	}
	conn, err := pgx.ConnectConfig(ctx, o.pool.ConnConfig)
	if err != nil {
		return fmt.Errorf("postgres: connect: %w", err)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("postgres: SELECT 1: %w", err)
	}
	if o.table == "" || o.mode == ModeListen {
		return nil
	}
	cols, err := lookupColumns(ctx, conn, o.tableName)
	if errors.Is(err, errNoTable) {
		return fmt.Errorf("postgres: table %s does not exist", o.table)
	}
	if err != nil {
		return fmt.Errorf("postgres: look up table %s: %w", o.table, err)
	}
	var want []string
	for _, c := range o.columns {
		want = append(want, c.name)
	}
	if o.columns == nil {
		want = append(want, o.fields...)
		if o.cursor != "" {
			want = append(want, o.cursor)
		}
	}
	if m := missing(cols, want); len(m) > 0 {
		return fmt.Errorf("postgres: %w", missingColumnsError(o.table, m))
	}
	return nil
}
