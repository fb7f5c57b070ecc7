package servicetest

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Environment variables that point the helpers elsewhere or make missing services fatal.
const (
	EnvRequireServices = "JUNCTION_REQUIRE_SERVICES"
	EnvPostgresURL     = "JUNCTION_TEST_POSTGRES_URL"
	EnvRedisAddr       = "JUNCTION_TEST_REDIS_ADDR"
)

// Defaults match the services scripts/services starts.
const (
	DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	DefaultRedisAddr   = "127.0.0.1:6379"
)

// Short enough that a suite with a missing service skips in seconds rather than hanging.
const (
	dialTimeout   = 2 * time.Second
	schemaTimeout = 10 * time.Second
)

// Require skips tb (or fails it, with JUNCTION_REQUIRE_SERVICES=1) unless something
// accepts TCP connections at addr. name is the service's name for the message.
func Require(tb testing.TB, name, addr string) {
	tb.Helper()
	conn, err := net.DialTimeout("tcp", addr, dialTimeout)
	if err != nil {
		unavailable(tb, name, addr, err)
		return
	}
	_ = conn.Close()
}

// RedisAddr returns the address of the local Redis (JUNCTION_TEST_REDIS_ADDR, by default
// 127.0.0.1:6379) after checking that it accepts connections.
func RedisAddr(tb testing.TB) string {
	tb.Helper()
	addr := cmp.Or(os.Getenv(EnvRedisAddr), DefaultRedisAddr)
	Require(tb, "Redis", addr)
	return addr
}

// PostgresDSN creates a new, uniquely named schema in the local PostgreSQL
// (JUNCTION_TEST_POSTGRES_URL, by default the "test" database as user postgres) and
// returns a DSN whose search_path is that schema, so tests can run in parallel, and can
// migrate from scratch, without seeing each other's tables. The schema is dropped with
// everything in it when tb ends; close connections to it before then (an earlier
// registered t.Cleanup runs later).
func PostgresDSN(tb testing.TB) string {
	tb.Helper()
	base := cmp.Or(os.Getenv(EnvPostgresURL), DefaultPostgresURL)
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// The value is not printed: it may hold a password.
		tb.Fatalf("servicetest: %s must be a postgres:// URL", EnvPostgresURL)
		return ""
	}
	addr := cmp.Or(u.Host, "127.0.0.1:5432")

	ctx, cancel := context.WithTimeout(context.Background(), schemaTimeout)
	defer cancel()
	connectCtx, cancelConnect := context.WithTimeout(ctx, dialTimeout)
	defer cancelConnect()
	conn, err := pgx.Connect(connectCtx, base)
	if err != nil {
		unavailable(tb, "PostgreSQL", addr, err)
		return ""
	}
	defer func() { _ = conn.Close(ctx) }()

	schema, err := schemaName(tb.Name())
	if err != nil {
		tb.Fatalf("servicetest: schema name: %v", err)
		return ""
	}
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		tb.Fatalf("servicetest: create schema %s in PostgreSQL at %s: %v", schema, addr, err)
		return ""
	}
	tb.Cleanup(func() { dropSchema(tb, base, schema) })

	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func dropSchema(tb testing.TB, base, schema string) {
	ctx, cancel := context.WithTimeout(context.Background(), schemaTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Errorf("servicetest: drop schema %s: %v", schema, err)
		return
	}
	defer func() { _ = conn.Close(ctx) }()
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		tb.Errorf("servicetest: drop schema %s (still in use by an open connection?): %v", schema, err)
	}
}

// schemaName is "junction_test_", the test's name in identifier-safe form so that a
// leftover schema says where it came from, and a random suffix; PostgreSQL allows 63 bytes.
func schemaName(testName string) (string, error) {
	var b strings.Builder
	for _, r := range strings.ToLower(testName) {
		if b.Len() == 30 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	suffix := make([]byte, 6)
	if _, err := rand.Read(suffix); err != nil {
		return "", err
	}
	return "junction_test_" + b.String() + "_" + hex.EncodeToString(suffix), nil
}

// unavailable ends tb because a service is missing: a skip during everyday development,
// a failure where the environment promises every service.
func unavailable(tb testing.TB, name, addr string, err error) {
	tb.Helper()
	if required, _ := strconv.ParseBool(os.Getenv(EnvRequireServices)); required {
		tb.Fatalf("servicetest: %s at %s is unreachable and %s is set: %v", name, addr, EnvRequireServices, err)
		return
	}
	tb.Skipf("servicetest: skipping, %s at %s is unreachable (start it with scripts/services; set %s=1 to fail instead): %v",
		name, addr, EnvRequireServices, err)
}
