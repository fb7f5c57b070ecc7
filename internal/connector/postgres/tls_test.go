package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/connectortest"
	"github.com/junctionhq/junction/internal/servicetest"
	"github.com/junctionhq/junction/internal/servicetest/tlsservers"
)

// tlsBlock is `tls: { key: value … }` as the configuration decodes it.
func tlsBlock(kv ...string) config.Options {
	o := config.Options{Pos: config.Pos{File: "test.cai", Line: 20, Col: 5}}
	for i := 0; i+1 < len(kv); i += 2 {
		o.Entries = append(o.Entries, config.Option{Pos: config.Pos{File: "test.cai", Line: 20, Col: 12 + i}, Key: kv[i], Value: kv[i+1]})
	}
	return o
}

// TestTLS runs the sink, the poll source, the listen source and Check against a
// PostgreSQL that accepts only TLS, started once for all of them: with the tls option,
// with TLS settings in the URL alone, with a client certificate the server requires, and
// with what must fail (a wrong CA, no client certificate, a bad file).
func TestTLS(t *testing.T) {
	certs := tlsservers.NewCerts(t)
	pg := tlsservers.StartPostgres(t, certs)
	// With a password, to show it stays out of errors (trust does not ask for it).
	trustURL := strings.Replace(pg.URL(tlsservers.PostgresTrustUser), "postgres@", "postgres:hunter2@", 1)
	certURL := pg.URL(tlsservers.PostgresCertUser)
	withCA := tlsBlock("ca", certs.CAFile)
	withClientCert := tlsBlock("ca", certs.CAFile, "cert", certs.ClientCert, "key", certs.ClientKey)
	// The test's own connection verifies the server through the URL, as DATABASE_URL can.
	adminURL := pg.URL(tlsservers.PostgresTrustUser) + "?sslmode=verify-full&sslrootcert=" + certs.CAFile
	admin := db(t, adminURL)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	t.Run("sink and poll source with the tls option", func(t *testing.T) {
		table := "tls_" + randomSuffix(t)
		exec(t, admin, "CREATE TABLE "+table+" (id bigserial PRIMARY KEY, n int NOT NULL)")
		sink := newSink(t, settings(trustURL, "table", table, "columns", block("n", "$.n"), "tls", withCA))
		src := newSource(t, settings(trustURL, "table", table, "cursor", "id", "poll_interval", pollEvery, "tls", withCA))
		connectortest.RoundTrip(t, src, sink, 20, 7)
	})

	t.Run("sink with TLS in the URL only", func(t *testing.T) {
		table := "tls_" + randomSuffix(t)
		exec(t, admin, "CREATE TABLE "+table+" (n int NOT NULL)")
		sink := newSink(t, settings(trustURL+"?sslmode=verify-full&sslrootcert="+certs.CAFile, "table", table, "columns", block("n", "$.n")))
		write(t, sink, `{"n":7}`)
		equal(t, "rows", rows(t, adminURL, "SELECT n FROM "+table), []string{"7"})
	})

	t.Run("listen source with a client certificate", func(t *testing.T) {
		channel := "tls_" + randomSuffix(t)
		src := newSource(t, settings(certURL, "mode", "listen", "channel", channel, "tls", withClientCert))
		ch := open(t, src, 1)
		// LISTEN runs on the source's own connection after Open returns: send until heard.
		deadline := time.After(connectortest.Timeout)
		for {
			exec(t, admin, "SELECT pg_notify($1, '{\"over\":\"tls\"}')", channel)
			select {
			case d := <-ch:
				if string(d.Body) != `{"over":"tls"}` {
					t.Fatalf("payload %q", d.Body)
				}
				ack(t, d)
				return
			case <-time.After(100 * time.Millisecond):
			case <-deadline:
				t.Fatal("no notification through the TLS connection")
			}
		}
	})

	for _, c := range []struct {
		name string
		s    connector.Settings
		want string // "" for success
	}{
		{"check with the CA", settings(trustURL, "tls", withCA), ""},
		{"check with server_name", settings(trustURL, "tls", tlsBlock("ca", certs.CAFile, "server_name", "localhost")), ""},
		{"check with a client certificate", settings(certURL, "tls", withClientCert), ""},
		{"check with a client certificate in the URL", settings(certURL + "?sslmode=verify-full&sslrootcert=" + certs.CAFile + "&sslcert=" + certs.ClientCert + "&sslkey=" + certs.ClientKey), ""},
		{"a wrong CA", settings(trustURL, "tls", tlsBlock("ca", certs.OtherCAFile)), "certificate signed by unknown authority"},
		{"a wrong CA in the URL", settings(trustURL + "?sslmode=verify-full&sslrootcert=" + certs.OtherCAFile), "certificate signed by unknown authority"},
		{"the system CAs", settings(trustURL, "tls", true), "certificate signed by unknown authority"},
		{"a name the certificate lacks", settings(trustURL, "tls", tlsBlock("ca", certs.CAFile, "server_name", "db.example")), "not db.example"},
		{"no client certificate", settings(certURL, "tls", withCA), "connection requires a valid client certificate"},
		{"a client certificate of another CA", settings(certURL, "tls", tlsBlock("ca", certs.CAFile, "cert", certs.OtherClientCert, "key", certs.OtherClientKey)), "connection requires a valid client certificate"},
		{"plain text", settings(trustURL + "?sslmode=disable"), "no pg_hba.conf entry"},
		{"tls and sslmode=disable", settings(trustURL+"?sslmode=disable", "tls", withCA), "postgres connector warehouse: tls: the url says sslmode=disable: remove one of the two"},
		{"a missing CA file", settings(trustURL, "tls", tlsBlock("ca", certs.Dir+"/nope.pem")), "tls: ca: CA file " + certs.Dir + "/nope.pem cannot be read"},
		{"a key that is not the certificate's", settings(certURL, "tls", tlsBlock("cert", certs.ClientCert, "key", certs.OtherClientKey)), "key file " + certs.OtherClientKey + ": tls: private key does not match public key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := Check(ctx, c.s)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("Check: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("Check: %v, want an error containing %q", err, c.want)
			}
			if err != nil {
				t.Logf("Check: %v", err)
				tlsservers.NoSecrets(t, err, []string{"hunter2"}, certs.ClientKey, certs.OtherClientKey, certs.ServerKey)
			}
		})
	}
}

// TestTLSNeverFallsBackToPlainText: with the tls option, a URL without sslmode (which
// pgconn reads as prefer: TLS, else plain text) must not connect in plain text when the
// TLS handshake fails. The local PostgreSQL's certificate is not signed by the test's CA.
func TestTLSNeverFallsBackToPlainText(t *testing.T) {
	servicetest.PostgresDSN(t) // skips without the local PostgreSQL
	addr := "127.0.0.1:5432"
	servicetest.Require(t, "PostgreSQL", addr)
	certs := tlsservers.NewCerts(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url := "postgres://postgres@" + addr + "/test?connect_timeout=5"
	if err := Check(ctx, settings(url)); err != nil {
		t.Skipf("the local PostgreSQL does not take %s: %v", url, err)
	}
	err := Check(ctx, settings(url, "tls", tlsBlock("ca", certs.CAFile)))
	if err == nil {
		t.Fatal("connected although the server's certificate is not signed by the CA: plain text, or no verification")
	}
	t.Logf("Check: %v", err)
}

// TestUseTLS: every TCP host gets TLS with its own name and no plain-text fallback; a
// Unix socket keeps none.
func TestUseTLS(t *testing.T) {
	certs := tlsservers.NewCerts(t)
	o, err := readOptions(settings("host=db1,db2,/tmp port=5432,5433,5432 user=u", "tls", tlsBlock("ca", certs.CAFile)), 0)
	if err != nil {
		t.Fatal(err)
	}
	cc := o.pool.ConnConfig
	var got []string
	for _, h := range append([]*pgconn.FallbackConfig{{Host: cc.Host, Port: cc.Port, TLSConfig: cc.TLSConfig}}, cc.Fallbacks...) {
		name := "none"
		if h.TLSConfig != nil {
			name = h.TLSConfig.ServerName
			if h.TLSConfig.RootCAs == nil || h.TLSConfig.InsecureSkipVerify {
				t.Errorf("%s: not verified against the CA", h.Host)
			}
		}
		got = append(got, fmt.Sprintf("%s:%d %s", h.Host, h.Port, name))
	}
	equal(t, "hosts", got, []string{"db1:5432 db1", "db2:5433 db2", "/tmp:5432 none"})
}
