package postgres

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/ohler55/ojg/jp"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/option"
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
		Spec:      spec,
		NewSource: NewSource,
		NewSink:   NewSink,
		Check:     Check,
		// Polling (one cursor per flow) and LISTEN (every listener hears each NOTIFY)
		// both deliver every row or payload once per node: one node of a cluster reads.
		Singleton: true,
	}
}

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

// spec declares the postgres connector's options. Every source and sink reads all of
// them, so a connector block can hold options of both roles; mode and columns must suit
// the role that reads them.
var spec = &option.Spec{
	Summary: `PostgreSQL, with pgx: a sink that writes JSON messages as rows of a table (insert or
upsert, a batch per transaction), and a source that polls a table in the order of a cursor
column, storing its progress in the same database, or receives NOTIFY payloads with LISTEN.`,
	Description: sinkDoc + "\n\n" + pollDoc + "\n\n" + listenDoc,
	Fields: []option.Field{
		{Name: "url", Type: option.String, Required: option.Always, Secret: true, Example: "env(WAREHOUSE_URL)",
			Description: "the database: a postgres:// URL or a key=value connection string",
			Parse: option.Convert(func(dsn string) (*pgxpool.Config, error) {
				cfg, err := pgxpool.ParseConfig(dsn)
				if err != nil {
					// pgconn's parse errors mask the password; the string is not printed otherwise.
					return nil, fmt.Errorf("not a PostgreSQL connection string: %v", err)
				}
				return cfg, nil
			})},
		{Name: "pool_size", Type: option.Int, Default: PoolSizeDefault, Min: 1,
			Description: "the most connections of each sink and poll source; an explicit pool_max_conns in the URL wins when pool_size is not set."},
		{Name: "table", Type: option.String, Required: option.Sink, Example: `"orders"`,
			Description: `the table a sink writes to or a poll source reads. "orders" or "schema.orders" (a dot always separates schema and table), found through the connection's search_path; a poll source reads views too.`,
			Parse:       option.Check(func(t string) error { _, err := splitTable(t); return err })},
		{Name: "mode", Type: option.String,
			Description: "insert (the default) or upsert for a sink; poll (the default) or listen for a source."},
		{Name: "key", Type: option.Strings, For: option.Sink, Example: `["id"]`,
			Description: "upsert only, and required there: the conflict columns. They must be among columns and have a unique index: ON CONFLICT (key) DO UPDATE SET every other column = EXCLUDED.column (DO NOTHING when all columns are key)."},
		{Name: "columns", Type: option.Any, Required: option.Sink, Example: `{ id: "$.id", total: "$.total", doc: "$" }`,
			Description: `the columns a sink writes, { column: "$.path" … }, or those a poll source delivers. "$" is the whole message; a poll source delivers every column by default.`,
			Parse:       parseColumns},
		{Name: "cursor", Type: option.String, For: option.Source, Example: "id",
			Description: "required to poll: a column whose values are unique and increase in the order rows become visible, such as id bigserial or a unique updated_at."},
		{Name: "where", Type: option.String, For: option.Source,
			Description: "an extra SQL condition, (status = 'paid'); trusted configuration, pasted into the query as written."},
		{Name: "batch_size", Type: option.Int, For: option.Source, Default: BatchSizeDefault, Min: 1,
			Description: "rows per query."},
		{Name: "poll_interval", Type: option.Duration, For: option.Source, Default: PollIntervalDefault, Min: time.Millisecond,
			Description: "the wait between queries that found nothing new."},
		{Name: "cursor_name", Type: option.String, For: option.Source,
			Description: `the source's row in junction_flow_cursors. Default: "NAME:table:cursor" with the name option, else "table:cursor"; two sources with one cursor_name share progress.`},
		{Name: "name", Type: option.String, For: option.Source,
			Description: "the name in the default cursor_name; the flow engine sets it to the flow's name, so each flow keeps its own cursor."},
		{Name: "channel", Type: option.String, For: option.Source, Example: "orders_changed",
			Description: "required to listen: the channel to LISTEN on, on a connection of its own."},
		option.TLS(`It replaces the TLS settings of the url (sslmode, sslrootcert, sslcert, sslkey) and
verifies like sslmode=verify-full; a url with sslmode=disable and a tls option is an error. The url
alone works too: ?sslmode=verify-full&sslrootcert=ca.pem.`),
	},
	Check: checkRole,
	Examples: []option.Example{
		{Role: option.Sink, Title: "upsert by id", Options: `url: "postgres://localhost:5432/warehouse"
table: "high_value_orders"
mode: upsert
key: ["id"]
columns: { id: "$.id", total: "$.total", doc: "$" }`},
		{Role: option.Source, Title: "poll new rows in id order", Options: `url: "postgres://localhost:5432/shop"
table: "orders"
cursor: "id"
columns: ["id", "total", "status"]
where: "status = 'paid'"
poll_interval: 5s`},
		{Role: option.Source, Title: "NOTIFY payloads", Options: `url: "postgres://localhost:5432/shop"
mode: listen
channel: "orders_changed"`},
	},
}

// The reference's prose about each role.
const (
	sinkDoc = `**Sink.** Each column's value is taken from the message (JSON, numbers kept exactly) with
its JSONPath and sent as text cast to the column's type, read from the catalog on the first
Write ($1::text::numeric(10,2)), so PostgreSQL parses it with the type's own rules: a number
keeps all its digits in numeric and bigint columns, an RFC 3339 string becomes a timestamptz,
true/false a boolean. Objects and arrays are written as JSON text; into json/jsonb columns
every value is written as JSON (a string stays a JSON string). A missing value, or JSON null,
is NULL. A path that can select several values ($.items[*], $..id, filters) is written as the
JSON array of what it selects. Integer columns do not accept 12.0 or 1e3, and PostgreSQL
arrays are not built from JSON arrays (write those to json/jsonb). Write runs one INSERT per
message, pipelined in one round trip inside one transaction, and returns after the commit. A
key repeated within a batch updates the row again, so the last message wins. A message that
can never be written (not JSON, an upsert key missing or null, a value PostgreSQL rejects with
SQLSTATE class 22 or 23) goes to the flow's dead-letter queue and the rest of the batch is
written again; every other error is about the database and retried.`
	pollDoc = `**Poll source** (mode: poll, the default). Rows are delivered in cursor order as JSON
objects made by PostgreSQL (row_to_json), with headers table and cursor (the value as text).
The table junction_flow_cursors (name, value, updated_at), created when missing in the first
schema of the search_path, keeps the cursor of the last row of the acknowledged prefix: a row
acknowledged while an earlier one is still out is delivered again after a restart, never
skipped. A Nack'ed row is delivered again by the same source, before new rows. The cursor is
written by the polling loop (when acknowledgements moved it, and on Close), so a crash may
deliver acknowledged rows again: at least once. Concurrent writers commit out of cursor order
(a transaction holding id 10 commits after one holding id 11), so a row is delivered only
once every transaction that had written when it was first seen has ended: a row never
commits behind the cursor. The cost: a long-running transaction that writes (to any table,
in any database of the server) holds back new rows until it ends, and the source warns
after a minute with the oldest running xid (pg_stat_activity.backend_xid); each poll that
finds new rows while transactions run takes one transaction id. This needs PostgreSQL 13 or
later and the primary. A writer must draw its cursor value in the statement that writes the
row (a sequence or identity default, clock_timestamp()) or after its transaction's first
write: a value drawn before (now() in a transaction that writes later, a nextval() kept for
a later insert) can still commit behind the cursor, and so, in a window of microseconds, can
a value a transaction's first write draws just before inserting its row. Limitations: rows with equal cursor
values may be skipped (the next query starts after the last value seen), as may a row
written with a cursor value smaller than one already delivered; rows with a NULL cursor
are never delivered.`
	listenDoc = `**Listen source** (mode: listen). Each NOTIFY payload is a message with headers channel
and pid (the sender's backend). PostgreSQL does not keep notifications for listeners that are
not connected: what is sent while the source is closed or reconnecting is lost, and Nack
cannot have it sent again (Ack and Nack only free the in-flight slot). Use the poll source for
at-least-once.

Check (` + "`junction connector test`" + `) connects and runs SELECT 1; with a table it checks that the
table and the columns to write (sink) or the cursor and columns to read (poll source) exist.`
)

// checkRole applies what each role needs: the mode it allows, the options that mode
// needs, and the shape of columns.
func checkRole(v *option.Values, role option.Role) {
	mode := v.String("mode")
	cols, isBlock := option.Get[any](v, "columns").([]column)
	switch role {
	case option.Sink:
		mode = cmp.Or(mode, ModeInsert)
		if mode != ModeInsert && mode != ModeUpsert {
			v.Fail("mode", "expected insert or upsert for a sink, found %q", mode)
		}
		if v.Has("columns") && !isBlock {
			v.Fail("columns", `expected a block { column: "$.path" … } for a sink`)
		}
	case option.Source:
		checkSourceMode(v, mode)
		if isBlock {
			v.Fail("columns", "expected a list of column names for a source")
		}
	default:
		if !slices.Contains([]string{"", ModeInsert, ModeUpsert, ModePoll, ModeListen}, mode) {
			v.Fail("mode", "expected insert, upsert, poll or listen, found %q", mode)
		}
	}
	if role == option.Sink || (role == option.Alone && isBlock) {
		checkKey(v, mode, cols)
	}
	if pool := option.Get[*pgxpool.Config](v, "url"); pool != nil && option.TLSConfig(v) != nil && tlsDisabled(&pool.ConnConfig.Config) {
		v.Fail(option.TLSName, "the url says sslmode=disable: remove one of the two")
	}
}

// checkSourceMode checks what a source's mode needs.
func checkSourceMode(v *option.Values, mode string) {
	switch cmp.Or(mode, ModePoll) {
	case ModePoll:
		v.Missing("table", "the table to poll")
		v.Missing("cursor", "a unique, increasing column such as id (bigserial) to poll in order")
	case ModeListen:
		v.Missing("channel", "the channel to LISTEN on")
	default:
		v.Fail("mode", "expected poll or listen for a source, found %q", mode)
	}
}

func checkKey(v *option.Values, mode string, cols []column) {
	key := v.Strings("key")
	if mode != ModeUpsert {
		if len(key) > 0 {
			v.Fail("key", "only used with mode: upsert")
		}
		return
	}
	v.Missing("key", `an upsert needs the conflict columns, such as key: ["id"]`)
	for _, k := range key {
		if !slices.ContainsFunc(cols, func(c column) bool { return c.name == k }) && v.OK("columns") {
			v.Fail("key", "%s is not one of the columns", k)
			return
		}
	}
}

// parseColumns reads a sink's block { column: "$.path" … } into columns, and a
// source's list of names (or one name) into strings.
func parseColumns(v any) (any, error) {
	var entries []config.Option
	switch v := v.(type) {
	case string:
		return []string{v}, nil
	case []any:
		names := make([]string, 0, len(v))
		for _, it := range v {
			s, ok := it.(string)
			if !ok {
				return nil, fmt.Errorf("expected a list of column names, found %v in it", it)
			}
			names = append(names, s)
		}
		return names, nil
	case config.Options:
		entries = v.Entries
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			entries = append(entries, config.Option{Key: k, Value: v[k]})
		}
	default:
		return nil, fmt.Errorf("expected a block { column: \"$.path\" … } (sink) or a list of names (source), found %v", v)
	}
	if len(entries) == 0 {
		return nil, errors.New("no columns given")
	}
	out := make([]column, 0, len(entries))
	for _, e := range entries {
		c, err := readColumn(e)
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(out, func(o column) bool { return o.name == c.name }) {
			return nil, fmt.Errorf("%s is given twice", e.Key)
		}
		out = append(out, c)
	}
	return out, nil
}

func readColumn(e config.Option) (column, error) {
	path, ok := e.Value.(string)
	if !ok {
		return column{}, fmt.Errorf("%s: expected a JSONPath string such as \"$.id\", found %v", e.Key, e.Value)
	}
	if !strings.HasPrefix(path, "$") {
		return column{}, fmt.Errorf("%s: %q is not a JSONPath: it starts with $ (\"$\" is the whole message)", e.Key, path)
	}
	x, err := jp.ParseString(path)
	if err != nil {
		return column{}, fmt.Errorf("%s: invalid JSONPath %q: %v", e.Key, path, err)
	}
	return column{name: e.Key, path: path, expr: x, singular: singular(x)}, nil
}

// readOptions decodes the options for role (option.Alone for Check).
func readOptions(s connector.Settings, role option.Role) (*options, error) {
	v, err := s.Decode(spec, role)
	if err != nil {
		return nil, err
	}
	o := &options{
		pool: option.Get[*pgxpool.Config](v, "url"), table: v.String("table"), mode: v.String("mode"),
		key: v.Strings("key"), cursor: v.String("cursor"), where: v.String("where"),
		batchSize: v.Int("batch_size"), pollInterval: v.Duration("poll_interval"),
		cursorName: v.String("cursor_name"), channel: v.String("channel"),
	}
	switch role {
	case option.Sink:
		o.mode = cmp.Or(o.mode, ModeInsert)
	case option.Source:
		o.mode = cmp.Or(o.mode, ModePoll)
	}
	switch cols := option.Get[any](v, "columns").(type) {
	case []column:
		o.columns = cols
	case []string:
		o.fields = cols
	}
	if v.Has("pool_size") || !hasParam(o.pool.ConnString(), "pool_max_conns") {
		o.pool.MaxConns = int32(min(v.Int("pool_size"), 1<<20))
	}
	if cfg := option.TLSConfig(v); cfg != nil {
		useTLS(&o.pool.ConnConfig.Config, cfg)
	}
	if _, ok := o.pool.ConnConfig.RuntimeParams["application_name"]; !ok {
		o.pool.ConnConfig.RuntimeParams["application_name"] = "junction"
	}
	if o.table != "" {
		o.tableName, _ = splitTable(o.table) // checked by the spec
	}
	if o.cursorName == "" {
		o.cursorName = o.table + ":" + o.cursor
		// The flow engine sets Settings.Flow, so each flow keeps its own cursor.
		if flow := cmp.Or(v.String("name"), s.Flow); flow != "" {
			o.cursorName = flow + ":" + o.cursorName
		}
	}
	return o, nil
}

// useTLS makes every TCP host of the connection string (several for failover) connect
// with cfg only, never in plain text: pgconn's sslmode=prefer and allow fall back to a
// plain connection to the same host, which the tls option rules out. Each host's
// certificate must carry its name unless server_name says otherwise. A Unix socket,
// where PostgreSQL offers no TLS, stays as it is.
func useTLS(cc *pgconn.Config, cfg *tls.Config) {
	hosts := []*pgconn.FallbackConfig{{Host: cc.Host, Port: cc.Port, TLSConfig: cc.TLSConfig}}
	for _, f := range cc.Fallbacks {
		if !slices.ContainsFunc(hosts, func(h *pgconn.FallbackConfig) bool { return h.Host == f.Host && h.Port == f.Port }) {
			hosts = append(hosts, &pgconn.FallbackConfig{Host: f.Host, Port: f.Port, TLSConfig: f.TLSConfig})
		}
	}
	for _, h := range hosts {
		if unixSocket(h) {
			continue
		}
		h.TLSConfig = cfg.Clone()
		h.TLSConfig.ServerName = cmp.Or(cfg.ServerName, h.Host)
	}
	cc.TLSConfig, cc.Fallbacks = hosts[0].TLSConfig, hosts[1:]
}

// tlsDisabled reports whether the connection string connects to its TCP hosts without
// TLS only: sslmode=disable.
func tlsDisabled(cc *pgconn.Config) bool {
	hosts := append([]*pgconn.FallbackConfig{{Host: cc.Host, Port: cc.Port, TLSConfig: cc.TLSConfig}}, cc.Fallbacks...)
	tcp := false
	for _, h := range hosts {
		if unixSocket(h) {
			continue
		}
		if h.TLSConfig != nil {
			return false
		}
		tcp = true
	}
	return tcp
}

func unixSocket(h *pgconn.FallbackConfig) bool {
	network, _ := pgconn.NetworkAddress(h.Host, h.Port)
	return network == "unix"
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
	o, err := readOptions(s, option.Alone)
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
