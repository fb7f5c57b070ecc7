package tlsservers_test

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/junctionhq/junction/internal/servicetest/tlsservers"
)

// TestPostgres: the cluster takes TLS only, verified against the test's CA, and the
// cert user needs its client certificate.
func TestPostgres(t *testing.T) {
	certs := tlsservers.NewCerts(t)
	pg := tlsservers.StartPostgres(t, certs)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	connect := func(url string) error {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		defer func() { _ = conn.Close(ctx) }()
		var one int
		return conn.QueryRow(ctx, "SELECT 1").Scan(&one)
	}

	for _, c := range []struct {
		name, url, wantErr string
	}{
		{"verify-full with the CA", pg.URL(tlsservers.PostgresTrustUser) + "?sslmode=verify-full&sslrootcert=" + certs.CAFile, ""},
		{"plain text refused", pg.URL(tlsservers.PostgresTrustUser) + "?sslmode=disable", "no pg_hba.conf entry"},
		{"a wrong CA", pg.URL(tlsservers.PostgresTrustUser) + "?sslmode=verify-full&sslrootcert=" + certs.OtherCAFile, "certificate signed by unknown authority"},
		{"client certificate", pg.URL(tlsservers.PostgresCertUser) + "?sslmode=verify-full&sslrootcert=" + certs.CAFile + "&sslcert=" + certs.ClientCert + "&sslkey=" + certs.ClientKey, ""},
		{"no client certificate", pg.URL(tlsservers.PostgresCertUser) + "?sslmode=verify-full&sslrootcert=" + certs.CAFile, "connection requires a valid client certificate"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := connect(c.url)
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatal(err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("error %v, want one saying %q", err, c.wantErr)
			}
		})
	}
}

func TestRedis(t *testing.T) {
	certs := tlsservers.NewCerts(t)
	r := tlsservers.StartRedis(t, certs, tlsservers.RedisOptions{ClientCerts: true, Password: "pw-secret"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ping := func(cfg *tls.Config) error {
		opts, err := redis.ParseURL(r.URL("pw-secret"))
		if err != nil {
			t.Fatal(err)
		}
		opts.TLSConfig, opts.MaxRetries = cfg, -1
		c := redis.NewClient(opts)
		defer func() { _ = c.Close() }()
		return c.Ping(ctx).Err()
	}
	pair, err := tls.LoadX509KeyPair(certs.ClientCert, certs.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := ping(&tls.Config{RootCAs: certs.CA.Pool(), Certificates: []tls.Certificate{pair}}); err != nil {
		t.Fatalf("with the CA and a client certificate: %v", err)
	}
	if err := ping(&tls.Config{RootCAs: certs.CA.Pool()}); err == nil {
		t.Fatal("no error without a client certificate")
	}
}
