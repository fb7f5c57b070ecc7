// Package postgres implements store.Store on PostgreSQL with pgx (a pgxpool for queries),
// for deployments that run several Junction processes against one shared database.
// Schema changes are embedded goose migrations, serialized across processes by an
// advisory lock scoped to the target schema.
package postgres
