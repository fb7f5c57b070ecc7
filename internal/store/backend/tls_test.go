package backend

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/servicetest/tlsservers"
)

// TestDatabaseURLWithTLS: a DATABASE_URL carries PostgreSQL's TLS settings itself
// (sslmode=verify-full, sslrootcert, sslcert, sslkey): Junction's store opens and
// migrates over TLS against a cluster that takes nothing else, with a server-only and a
// client-certificate user, and refuses a server its CA did not sign.
func TestDatabaseURLWithTLS(t *testing.T) {
	certs := tlsservers.NewCerts(t)
	pg := tlsservers.StartPostgres(t, certs)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// trust does not ask for the password: it is there to show it stays out of errors.
	trust := strings.Replace(pg.URL(tlsservers.PostgresTrustUser), "postgres@", "postgres:hunter2@", 1)
	verify := "?sslmode=verify-full&sslrootcert=" + certs.CAFile
	clientCert := "&sslcert=" + certs.ClientCert + "&sslkey=" + certs.ClientKey
	for _, c := range []struct {
		name, url, want string // want: in the error; "" for success
	}{
		{"server certificate verified", trust + verify, ""},
		{"client certificate", pg.URL(tlsservers.PostgresCertUser) + verify + clientCert, ""},
		{"a wrong CA", trust + "?sslmode=verify-full&sslrootcert=" + certs.OtherCAFile, "certificate signed by unknown authority"},
		{"no client certificate", pg.URL(tlsservers.PostgresCertUser) + verify, "connection requires a valid client certificate"},
		{"a missing CA file", trust + "?sslmode=verify-full&sslrootcert=" + certs.Dir + "/nope.pem", "nope.pem"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := Open(ctx, c.url)
			if err == nil {
				defer func() { _ = s.Close() }()
				_, err = s.MigrateUp(ctx)
			}
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("open and migrate: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("error %v, want one containing %q", err, c.want)
			case err != nil && (strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), "hunter2")):
				t.Fatalf("error shows a secret: %v", err)
			}
			if err != nil {
				t.Logf("Open: %v", err)
			}
		})
	}
}
