// Package tlsservers starts real servers with TLS listeners for tests — a throwaway
// PostgreSQL cluster and Redis — with certificates the test generates (NewCerts, from
// tlsfiles/tlstest), so no key is ever committed and every case (the right CA, a wrong
// CA, a client certificate required and given or not) can be shown against the real
// server's TLS, not a Go imitation of it.
//
// Each server listens on 127.0.0.1 at a free port, lives in a temporary directory and
// is stopped by the test's Cleanup. A PostgreSQL cluster costs a few seconds to create:
// start one per package (one top-level test with subtests, or sync.Once) and share it.
// When a server's binary is missing the test is skipped with a message naming it, or
// fails when JUNCTION_REQUIRE_SERVICES=1.
//
// Typical use:
//
//	certs := tlsservers.NewCerts(t)
//	pg := tlsservers.StartPostgres(t, certs)
//	url := pg.URL(tlsservers.PostgresTrustUser) + "&sslmode=verify-full&sslrootcert=" + certs.CAFile
//	r := tlsservers.StartRedis(t, certs, tlsservers.RedisOptions{ClientCerts: true})
package tlsservers
