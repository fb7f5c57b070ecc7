package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/store"
)

// t0 is a creation time already at microsecond precision, so it reads back unchanged.
var t0 = time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)

// Run runs the conformance suite as subtests of t. open must return a store on a new,
// empty database that has not been migrated, each time it is called; the suite closes
// the store when the subtest that opened it ends.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	fresh := func(t *testing.T) store.Store {
		t.Helper()
		s := open(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}
	migrated := func(t *testing.T) store.Store {
		t.Helper()
		s := fresh(t)
		if _, err := s.MigrateUp(context.Background()); err != nil {
			t.Fatalf("MigrateUp: %v", err)
		}
		return s
	}

	t.Run("Backend", func(t *testing.T) { testBackend(t, fresh(t)) })
	t.Run("Ping", func(t *testing.T) { testPing(t, fresh(t)) })
	t.Run("MigrateStatusBeforeUp", func(t *testing.T) { testMigrateStatusBeforeUp(t, fresh(t)) })
	t.Run("MigrateUp", func(t *testing.T) { testMigrateUp(t, fresh(t)) })
	t.Run("TokenCreate", func(t *testing.T) { testTokenCreate(t, migrated(t)) })
	t.Run("TokenCreateConflict", func(t *testing.T) { testTokenCreateConflict(t, migrated(t)) })
	t.Run("TokenCreateInvalid", func(t *testing.T) { testTokenCreateInvalid(t, migrated(t)) })
	t.Run("TokenGetByHashNotFound", func(t *testing.T) { testTokenGetByHashNotFound(t, migrated(t)) })
	t.Run("TokenList", func(t *testing.T) { testTokenList(t, migrated(t)) })
	t.Run("TokenRevoke", func(t *testing.T) { testTokenRevoke(t, migrated(t)) })
	t.Run("TokenCreateIfNone", func(t *testing.T) { testTokenCreateIfNone(t, migrated(t)) })
	t.Run("TokenCreateIfNoneRevoked", func(t *testing.T) { testTokenCreateIfNoneRevoked(t, migrated(t)) })
	t.Run("TokenCreateIfNoneConcurrent", func(t *testing.T) { testTokenCreateIfNoneConcurrent(t, migrated(t)) })
	t.Run("TimeRoundTrip", func(t *testing.T) { testTimeRoundTrip(t, migrated(t)) })
	t.Run("CanceledContext", func(t *testing.T) { testCanceledContext(t, migrated(t)) })
	runWebhook(t, migrated)
	runFlow(t, migrated)
	runHandler(t, migrated)
	runJob(t, migrated)
	runWorkflow(t, migrated)
	runReport(t, migrated)
	runCluster(t, migrated)
	runEventLog(t, migrated)
	runPlugin(t, migrated)
	t.Run("Close", func(t *testing.T) { testClose(t, open(t)) })
}

func testBackend(t *testing.T, s store.Store) {
	if b := s.Backend(); b != "sqlite" && b != "postgres" {
		t.Errorf(`Backend() = %q, want "sqlite" or "postgres"`, b)
	}
}

func testPing(t *testing.T, s store.Store) {
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func testMigrateStatusBeforeUp(t *testing.T, s store.Store) {
	ctx := context.Background()
	status, err := s.MigrateStatus(ctx)
	if err != nil {
		t.Fatalf("MigrateStatus: %v", err)
	}
	checkMigrationList(t, status)
	for _, m := range status {
		if m.AppliedAt != nil {
			t.Errorf("migration %d %s applied at %v on a new database, want pending", m.Version, m.Name, m.AppliedAt)
		}
	}
	if _, err := s.TokenList(ctx); err == nil {
		t.Error("TokenList before MigrateUp succeeded, want an error (no tokens table yet)")
	}
}

func testMigrateUp(t *testing.T, s store.Store) {
	ctx := context.Background()
	pending, err := s.MigrateStatus(ctx)
	if err != nil {
		t.Fatalf("MigrateStatus: %v", err)
	}

	// A window of minutes still catches a time zone mix-up, which is off by hours.
	earliest := time.Now().Add(-time.Minute)
	applied, err := s.MigrateUp(ctx)
	if err != nil {
		t.Fatalf("MigrateUp: %v", err)
	}
	latest := time.Now().Add(time.Minute)

	if len(applied) != len(pending) {
		t.Fatalf("MigrateUp applied %d migrations, want all %d", len(applied), len(pending))
	}
	for i, m := range applied {
		if m.Version != pending[i].Version || m.Name != pending[i].Name {
			t.Errorf("applied[%d] = %d %s, want %d %s", i, m.Version, m.Name, pending[i].Version, pending[i].Name)
		}
		checkAppliedAt(t, m, earliest, latest)
	}

	again, err := s.MigrateUp(ctx)
	if err != nil {
		t.Fatalf("second MigrateUp: %v", err)
	}
	if len(again) != 0 {
		t.Errorf("second MigrateUp applied %v, want none", again)
	}

	status, err := s.MigrateStatus(ctx)
	if err != nil {
		t.Fatalf("MigrateStatus after MigrateUp: %v", err)
	}
	checkMigrationList(t, status)
	if len(status) != len(applied) {
		t.Fatalf("MigrateStatus lists %d migrations, want %d", len(status), len(applied))
	}
	for i, m := range status {
		checkAppliedAt(t, m, earliest, latest)
		if fmtMigration(m) != fmtMigration(applied[i]) {
			t.Errorf("status[%d] = %s, want %s as MigrateUp returned it", i, fmtMigration(m), fmtMigration(applied[i]))
		}
	}

	if _, err := s.TokenList(ctx); err != nil {
		t.Errorf("TokenList after MigrateUp: %v", err)
	}
}

// migrationNames are the embedded migrations, in version order. Every backend ships the
// same schema changes under the same names, so a migration added to one backend only is
// caught here.
var migrationNames = []string{"00001_tokens.sql", "00002_webhooks.sql", "00003_flows.sql", "00004_webhook_circuit.sql", "00005_webhook_managed.sql",
	"00006_handler_executions.sql", "00007_job_runs.sql", "00008_workflow_runs.sql", "00009_inbound_listing.sql", "00010_report_rollups.sql", "00011_events_created.sql",
	"00012_delivery_trace.sql", "00013_report_hours.sql", "00014_report_hours_one_operation.sql", "00015_cluster.sql",
	"00016_dead_letter_accepted.sql", "00017_event_log.sql", "00018_plugins.sql", "00019_delivery_queue.sql"}

func checkMigrationList(t *testing.T, ms []store.Migration) {
	t.Helper()
	if len(ms) == 0 {
		t.Fatal("no migrations listed, want at least the tokens table")
	}
	names := make([]string, 0, len(ms))
	for _, m := range ms {
		names = append(names, m.Name)
	}
	if !slices.Equal(names, migrationNames) {
		t.Errorf("migrations listed = %q, want %q", names, migrationNames)
	}
	for i, m := range ms {
		if !strings.HasSuffix(m.Name, ".sql") || strings.ContainsRune(m.Name, '/') {
			t.Errorf("migration %d name = %q, want a bare file name ending in .sql", m.Version, m.Name)
		}
		if i > 0 && m.Version <= ms[i-1].Version {
			t.Errorf("migration versions out of order: %d after %d", m.Version, ms[i-1].Version)
		}
	}
}

func checkAppliedAt(t *testing.T, m store.Migration, earliest, latest time.Time) {
	t.Helper()
	switch {
	case m.AppliedAt == nil:
		t.Errorf("migration %d %s has no applied time", m.Version, m.Name)
	case m.AppliedAt.Location() != time.UTC:
		t.Errorf("migration %d applied time %v is not in UTC", m.Version, *m.AppliedAt)
	case m.AppliedAt.Before(earliest) || m.AppliedAt.After(latest):
		t.Errorf("migration %d applied at %v, want between %v and %v", m.Version, *m.AppliedAt, earliest.UTC(), latest.UTC())
	}
}

func fmtMigration(m store.Migration) string {
	if m.AppliedAt == nil {
		return fmt.Sprintf("%d %s pending", m.Version, m.Name)
	}
	return fmt.Sprintf("%d %s applied %v", m.Version, m.Name, *m.AppliedAt)
}

func testTokenCreate(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, p := range []store.TokenCreateParams{
		params("tok-admin", store.RoleAdmin, t0),
		params("tok-user", store.RoleUser, t0.Add(time.Second)),
		{ID: "tok-nameless", Role: store.RoleUser, Hash: hash("tok-nameless"), CreatedAt: t0},
	} {
		want := expected(p)
		created, err := s.TokenCreate(ctx, p)
		if err != nil {
			t.Fatalf("TokenCreate(%s): %v", p.ID, err)
		}
		checkToken(t, "TokenCreate result", created, want)

		got, err := s.TokenGetByHash(ctx, p.Hash)
		if err != nil {
			t.Fatalf("TokenGetByHash(%s): %v", p.ID, err)
		}
		checkToken(t, "TokenGetByHash", got, want)
		if got.Revoked() {
			t.Errorf("new token %s is revoked", p.ID)
		}
	}
}

func testTokenCreateConflict(t *testing.T, s store.Store) {
	ctx := context.Background()
	first := mustCreate(t, s, params("tok-1", store.RoleUser, t0))

	sameID := params("tok-1", store.RoleAdmin, t0)
	sameID.Hash = hash("another secret")
	if _, err := s.TokenCreate(ctx, sameID); !errors.Is(err, store.ErrConflict) {
		t.Errorf("TokenCreate with a duplicate ID: err = %v, want ErrConflict", err)
	}

	sameHash := params("tok-2", store.RoleAdmin, t0)
	sameHash.Hash = first.Hash
	if _, err := s.TokenCreate(ctx, sameHash); !errors.Is(err, store.ErrConflict) {
		t.Errorf("TokenCreate with a duplicate hash: err = %v, want ErrConflict", err)
	}

	tokens := mustList(t, s)
	if len(tokens) != 1 {
		t.Fatalf("after conflicts TokenList has %d tokens, want 1", len(tokens))
	}
	checkToken(t, "surviving token", tokens[0], first)
}

func testTokenCreateInvalid(t *testing.T, s store.Store) {
	ctx := context.Background()
	bad := map[string]store.TokenCreateParams{
		"unknown role": params("tok-role", "root", t0),
		"empty id":     params("", store.RoleUser, t0),
		"no hash":      {ID: "tok-hash", Role: store.RoleUser, CreatedAt: t0},
		"zero time":    params("tok-time", store.RoleUser, time.Time{}),
	}
	for name, p := range bad {
		_, err := s.TokenCreate(ctx, p)
		if err == nil || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
			t.Errorf("TokenCreate with %s: err = %v, want a validation error", name, err)
		}
	}
	if tokens := mustList(t, s); len(tokens) != 0 {
		t.Errorf("invalid creates stored %d tokens, want none", len(tokens))
	}
}

func testTokenGetByHashNotFound(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, err := s.TokenGetByHash(ctx, hash("nobody")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TokenGetByHash on an empty table: err = %v, want ErrNotFound", err)
	}
	mustCreate(t, s, params("tok-1", store.RoleUser, t0))
	if _, err := s.TokenGetByHash(ctx, hash("nobody")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TokenGetByHash of an unknown hash: err = %v, want ErrNotFound", err)
	}
}

func testTokenList(t *testing.T, s store.Store) {
	ctx := context.Background()
	if tokens := mustList(t, s); len(tokens) != 0 {
		t.Fatalf("TokenList on an empty table = %d tokens, want 0", len(tokens))
	}

	second := t0.Truncate(time.Second)
	// Inserted out of order. "a" has no fraction and "b" is one microsecond later, which
	// a variable-width text encoding would sort the wrong way round; "d" and "e" tie on
	// time and must come back in ID order.
	e := mustCreate(t, s, params("tok-e", store.RoleUser, second.Add(time.Hour)))
	c := mustCreate(t, s, params("tok-c", store.RoleAdmin, second.Add(time.Minute)))
	b := mustCreate(t, s, params("tok-b", store.RoleUser, second.Add(time.Microsecond)))
	d := mustCreate(t, s, params("tok-d", store.RoleUser, second.Add(time.Hour)))
	a := mustCreate(t, s, params("tok-a", store.RoleUser, second))
	revokedAt := t0.Add(2 * time.Hour)
	if err := s.TokenRevoke(ctx, c.ID, revokedAt); err != nil {
		t.Fatalf("TokenRevoke: %v", err)
	}
	c.RevokedAt = &revokedAt

	want := []store.Token{a, b, c, d, e}
	got := mustList(t, s)
	if len(got) != len(want) {
		t.Fatalf("TokenList = %d tokens, want %d", len(got), len(want))
	}
	for i := range want {
		checkToken(t, fmt.Sprintf("TokenList[%d]", i), got[i], want[i])
	}
}

func testTokenRevoke(t *testing.T, s store.Store) {
	ctx := context.Background()
	victim := mustCreate(t, s, params("tok-victim", store.RoleUser, t0))
	bystander := mustCreate(t, s, params("tok-bystander", store.RoleUser, t0))

	// Not in UTC and finer than a microsecond: it must come back normalized.
	first := time.Date(2025, 4, 1, 12, 30, 45, 987654321, time.FixedZone("UTC-7", -7*3600))
	if err := s.TokenRevoke(ctx, victim.ID, first); err != nil {
		t.Fatalf("TokenRevoke: %v", err)
	}
	wantAt := first.UTC().Truncate(time.Microsecond)
	victim.RevokedAt = &wantAt

	got, err := s.TokenGetByHash(ctx, victim.Hash)
	if err != nil {
		t.Fatalf("TokenGetByHash of a revoked token: %v", err)
	}
	checkToken(t, "revoked token", got, victim)
	if !got.Revoked() {
		t.Error("revoked token reports Revoked() = false")
	}

	if err := s.TokenRevoke(ctx, victim.ID, first.Add(time.Hour)); err != nil {
		t.Errorf("revoking a revoked token again: %v, want nil", err)
	}
	got, err = s.TokenGetByHash(ctx, victim.Hash)
	if err != nil {
		t.Fatalf("TokenGetByHash: %v", err)
	}
	checkToken(t, "token revoked twice (keeps the first time)", got, victim)

	got, err = s.TokenGetByHash(ctx, bystander.Hash)
	if err != nil {
		t.Fatalf("TokenGetByHash: %v", err)
	}
	checkToken(t, "other token", got, bystander)

	if err := s.TokenRevoke(ctx, "tok-unknown", first); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TokenRevoke of an unknown ID: err = %v, want ErrNotFound", err)
	}
}

func testTokenCreateIfNone(t *testing.T, s store.Store) {
	ctx := context.Background()
	p := params("tok-first", store.RoleAdmin, t0)
	created, err := s.TokenCreateIfNone(ctx, p)
	if err != nil || !created {
		t.Fatalf("TokenCreateIfNone on an empty table = %v, %v; want true, nil", created, err)
	}
	got, err := s.TokenGetByHash(ctx, p.Hash)
	if err != nil {
		t.Fatalf("TokenGetByHash of the created token: %v", err)
	}
	checkToken(t, "created token", got, expected(p))

	created, err = s.TokenCreateIfNone(ctx, params("tok-second", store.RoleAdmin, t0))
	if err != nil || created {
		t.Errorf("second TokenCreateIfNone = %v, %v; want false, nil", created, err)
	}
	if tokens := mustList(t, s); len(tokens) != 1 || tokens[0].ID != p.ID {
		t.Errorf("after two TokenCreateIfNone calls TokenList = %v, want only %s", ids(tokens), p.ID)
	}
}

func testTokenCreateIfNoneRevoked(t *testing.T, s store.Store) {
	ctx := context.Background()
	only := mustCreate(t, s, params("tok-old", store.RoleAdmin, t0))
	if err := s.TokenRevoke(ctx, only.ID, t0.Add(time.Second)); err != nil {
		t.Fatalf("TokenRevoke: %v", err)
	}
	created, err := s.TokenCreateIfNone(ctx, params("tok-new", store.RoleAdmin, t0))
	if err != nil || created {
		t.Errorf("TokenCreateIfNone with only a revoked token present = %v, %v; want false, nil", created, err)
	}
	if tokens := mustList(t, s); len(tokens) != 1 {
		t.Errorf("TokenList = %v, want only %s", ids(tokens), only.ID)
	}
}

func testTokenCreateIfNoneConcurrent(t *testing.T, s store.Store) {
	const callers = 10
	ctx := context.Background()
	start := make(chan struct{})
	type result struct {
		id      string
		created bool
		err     error
	}
	results := make(chan result, callers)
	var wg sync.WaitGroup
	for i := range callers {
		id := fmt.Sprintf("tok-%02d", i)
		wg.Go(func() {
			<-start
			created, err := s.TokenCreateIfNone(ctx, params(id, store.RoleAdmin, t0))
			results <- result{id, created, err}
		})
	}
	close(start)
	wg.Wait()
	close(results)

	var winners []string
	for r := range results {
		if r.err != nil {
			t.Errorf("TokenCreateIfNone(%s): %v", r.id, r.err)
		}
		if r.created {
			winners = append(winners, r.id)
		}
	}
	if len(winners) != 1 {
		t.Fatalf("%d concurrent TokenCreateIfNone calls created %v, want exactly one", callers, winners)
	}
	if tokens := mustList(t, s); len(tokens) != 1 || tokens[0].ID != winners[0] {
		t.Errorf("TokenList = %v, want only the winner %s", ids(tokens), winners[0])
	}
}

func testTimeRoundTrip(t *testing.T, s store.Store) {
	ctx := context.Background()
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	cases := map[string]time.Time{
		"nanoseconds, not UTC": time.Date(2025, 1, 2, 3, 4, 5, 123456789, zone),
		"one microsecond":      time.Date(2025, 1, 2, 3, 4, 5, 1000, time.UTC),
		"whole second":         time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC),
		"local with monotonic": time.Now(),
	}
	i := 0
	for name, at := range cases {
		i++
		want := at.UTC().Truncate(time.Microsecond)
		created, err := s.TokenCreate(ctx, params(fmt.Sprintf("tok-%d", i), store.RoleUser, at))
		if err != nil {
			t.Fatalf("%s: TokenCreate: %v", name, err)
		}
		got, err := s.TokenGetByHash(ctx, created.Hash)
		if err != nil {
			t.Fatalf("%s: TokenGetByHash: %v", name, err)
		}
		for what, tm := range map[string]time.Time{"TokenCreate": created.CreatedAt, "TokenGetByHash": got.CreatedAt} {
			if !tm.Equal(want) || tm.Location() != time.UTC {
				t.Errorf("%s: %s CreatedAt = %v (%v), want %v in UTC", name, what, tm, tm.Location(), want)
			}
		}
		if got.CreatedAt.Nanosecond() != want.Nanosecond() {
			t.Errorf("%s: sub-second part = %dns, want %dns", name, got.CreatedAt.Nanosecond(), want.Nanosecond())
		}
	}
}

func testCanceledContext(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.TokenCreate(ctx, params("tok-1", store.RoleUser, t0)); err == nil {
		t.Error("TokenCreate with a canceled context succeeded")
	}
	if _, err := s.TokenList(ctx); err == nil {
		t.Error("TokenList with a canceled context succeeded")
	}
	if tokens := mustList(t, s); len(tokens) != 0 {
		t.Errorf("TokenCreate with a canceled context stored %v", ids(tokens))
	}
}

func testClose(t *testing.T, s store.Store) {
	ctx := context.Background()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping before Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping after Close succeeded, want an error")
	}
}

func hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

func params(id string, role store.Role, created time.Time) store.TokenCreateParams {
	return store.TokenCreateParams{ID: id, Name: "token " + id, Role: role, Hash: hash("secret of " + id), CreatedAt: created}
}

// expected is the token p must read back as.
func expected(p store.TokenCreateParams) store.Token {
	return store.Token{ID: p.ID, Name: p.Name, Role: p.Role, Hash: p.Hash, CreatedAt: p.CreatedAt.UTC().Truncate(time.Microsecond)}
}

func mustCreate(t *testing.T, s store.Store, p store.TokenCreateParams) store.Token {
	t.Helper()
	tok, err := s.TokenCreate(context.Background(), p)
	if err != nil {
		t.Fatalf("TokenCreate(%s): %v", p.ID, err)
	}
	return tok
}

func mustList(t *testing.T, s store.Store) []store.Token {
	t.Helper()
	tokens, err := s.TokenList(context.Background())
	if err != nil {
		t.Fatalf("TokenList: %v", err)
	}
	return tokens
}

func ids(tokens []store.Token) []string {
	out := make([]string, 0, len(tokens))
	for _, tok := range tokens {
		out = append(out, tok.ID)
	}
	return out
}

func checkToken(t *testing.T, what string, got, want store.Token) {
	t.Helper()
	if got.ID != want.ID || got.Name != want.Name || got.Role != want.Role || !bytes.Equal(got.Hash, want.Hash) {
		t.Errorf("%s = {%q %q %q %x}, want {%q %q %q %x}", what,
			got.ID, got.Name, got.Role, got.Hash, want.ID, want.Name, want.Role, want.Hash)
	}
	if !got.CreatedAt.Equal(want.CreatedAt) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("%s: CreatedAt = %v, want %v in UTC", what, got.CreatedAt, want.CreatedAt)
	}
	switch {
	case got.RevokedAt == nil && want.RevokedAt == nil:
	case got.RevokedAt == nil || want.RevokedAt == nil:
		t.Errorf("%s: RevokedAt = %v, want %v", what, got.RevokedAt, want.RevokedAt)
	case !got.RevokedAt.Equal(*want.RevokedAt) || got.RevokedAt.Location() != time.UTC:
		t.Errorf("%s: RevokedAt = %v, want %v in UTC", what, *got.RevokedAt, *want.RevokedAt)
	}
}
