// Package postgres is the postgres connector: a sink that writes JSON messages as rows
// of a table (insert or upsert, a batch per transaction), and a source that polls a
// table in the order of a cursor column, storing its progress in the same database, or
// receives NOTIFY payloads with LISTEN. It uses pgx (pgxpool).
//
// # Options
//
// Connection (usually in the connector block):
//
//	url        required; a postgres:// URL or key=value string, or env(NAME)
//	pool_size  maximum connections of each sink and poll source (default 8; an
//	           explicit pool_max_conns in the URL wins when pool_size is not set)
//
// Sink (the flow's sink block):
//
//	table    required; "orders" or "schema.orders" (a dot always separates schema
//	         and table); found through the connection's search_path
//	mode     insert (default) or upsert
//	key      upsert only, required: the conflict columns, ["id"]; they must be among
//	         columns and have a unique index. ON CONFLICT (key) DO UPDATE SET every
//	         other column = EXCLUDED.column (DO NOTHING when all columns are key).
//	columns  required: { column: "JSONPath" … }; "$" is the whole message
//
// Each column's value is taken from the message (JSON, numbers kept exactly) with its
// JSONPath and sent as text cast to the column's type, read from the catalog on the
// first Write ($1::text::numeric(10,2)), so PostgreSQL parses it with the type's own
// rules: a number keeps all its digits in numeric and bigint columns, an RFC 3339
// string becomes a timestamptz, true/false a boolean. Objects and arrays are written as
// JSON text; into json/jsonb columns every value is written as JSON (a string stays a
// JSON string). A missing value, or JSON null, is NULL. A path that can select several
// values ($.items[*], $..id, filters) is written as the JSON array of what it selects.
// Integer columns do not accept 12.0 or 1e3, and PostgreSQL arrays are not built from
// JSON arrays (write those to json/jsonb).
//
// Write runs one INSERT per message, pipelined in one round trip inside one
// transaction, and returns nil after the commit. A key repeated within a batch updates
// the row again, so the last message wins. A message that can never be written (not
// JSON, an upsert key missing or null, a value PostgreSQL rejects with SQLSTATE class 22
// or 23) fails the whole batch with a *MessageError holding its index, so the flow can
// dead-letter it and write the rest again; every other error is about the database and
// worth retrying as it is.
//
// Poll source (mode: poll, the default; the flow's source block):
//
//	table          required; as for the sink (a view works too)
//	cursor         required; a column whose values are unique and increase in the order
//	               rows become visible, such as id bigserial or a unique updated_at
//	columns        the columns to deliver, ["id", "total"]; default all. Each row is
//	               delivered as a JSON object made by PostgreSQL (row_to_json).
//	where          an extra SQL condition, (status = 'paid'); it is trusted
//	               configuration, pasted into the query as written
//	batch_size     rows per query (default 100)
//	poll_interval  wait between queries that found nothing new (default 1s)
//	cursor_name    the source's row in junction_flow_cursors (default "NAME:table:cursor"
//	               with the name option, which the flow engine sets to the flow's name,
//	               else "table:cursor"); two sources with one cursor_name share progress
//
// Rows are delivered in cursor order with headers table and cursor (the value as text).
// The table junction_flow_cursors (name, value, updated_at), created when missing in the
// first schema of the search_path, keeps the cursor of the last row of the acknowledged
// prefix: a row acknowledged while an earlier one is still out is delivered again after
// a restart, never skipped. A Nack'ed row is delivered again by the same source, before
// new rows. The cursor is written by the polling loop (when acknowledgements moved it,
// and on Close), so a crash may deliver acknowledged rows again: at least once.
// Limitations: rows with equal cursor values may be skipped (the next query starts after
// the last value seen), as may a row whose cursor value is smaller than one already
// delivered, which happens when concurrent transactions commit sequence values out of
// order; rows with a NULL cursor are never delivered.
//
// Listen source (mode: listen):
//
//	channel  required; LISTEN on this channel, on a connection of its own
//
// Each NOTIFY payload is a message with headers channel and pid (the sender's backend).
// PostgreSQL does not keep notifications for listeners that are not connected: what is
// sent while the source is closed or reconnecting is lost, and Nack cannot have it sent
// again (Ack and Nack only free the in-flight slot). Use the poll source for at-least-once.
//
// Every source and sink reads all of these keys, so a connector block can hold options
// of both roles: keys of the other role are accepted and ignored, while mode and columns
// must suit the role that reads them (a sink's columns are a block, a source's a list).
//
// Check connects and runs SELECT 1; with a table it checks that the table and the
// columns to write (sink) or the cursor and columns to read (poll source) exist.
package postgres
