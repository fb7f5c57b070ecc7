package app

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/servicetest/tlsservers"
	"github.com/junctionhq/junction/internal/tlsfiles"
)

// TestRedisURLWithTLS: REDIS_URL takes TLS through its scheme, rediss://, and verifies
// the server against the system's CAs, which Go reads from SSL_CERT_FILE (or against
// --redis-ca, below). The system's CAs are loaded once per process, so the case that
// trusts the test's CA runs in a child process of this test binary.
func TestRedisURLWithTLS(t *testing.T) {
	if url := os.Getenv("JUNCTION_TEST_REDISS_URL"); url != "" {
		// The child: SSL_CERT_FILE is the test's CA.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := openRedis(ctx, url, tlsfiles.Client{})
		if err != nil {
			t.Fatalf("openRedis with SSL_CERT_FILE: %v", err)
		}
		_ = c.Close()
		return
	}
	certs := tlsservers.NewCerts(t)
	r := tlsservers.StartRedis(t, certs, tlsservers.RedisOptions{Password: "hunter2-redis"})
	url := r.URL("hunter2-redis")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := openRedis(ctx, url, tlsfiles.Client{})
	if err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("rediss:// to a server of an unknown CA: %v, want a verification error without the password", err)
	}
	if _, err := openRedis(ctx, strings.Replace(url, "rediss://", "redis://", 1), tlsfiles.Client{}); err == nil {
		t.Fatal("redis:// (plain text) to a TLS-only server connected")
	}

	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestRedisURLWithTLS$", "-test.count=1")
	cmd.Env = append(os.Environ(), "JUNCTION_TEST_REDISS_URL="+url, "SSL_CERT_FILE="+certs.CAFile, "SSL_CERT_DIR=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rediss:// with SSL_CERT_FILE naming the CA: %v\n%s", err, out)
	}
}

// TestRedisURLWithTLSFiles: --redis-ca trusts a private CA, --redis-cert/--redis-key
// present a client certificate to a server that requires one (and one signed by another
// CA is refused); files for a plain-text URL, or a certificate without its key, are
// refused before anything is dialled.
func TestRedisURLWithTLSFiles(t *testing.T) {
	certs := tlsservers.NewCerts(t)
	r := tlsservers.StartRedis(t, certs, tlsservers.RedisOptions{ClientCerts: true})
	url := r.URL("")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	c, err := openRedis(ctx, url, tlsfiles.Client{CA: certs.CAFile, Cert: certs.ClientCert, Key: certs.ClientKey})
	if err != nil {
		t.Fatalf("rediss:// with the CA and a client certificate: %v", err)
	}
	if err := c.Set(ctx, "junction-test-"+t.Name(), "1", time.Minute).Err(); err != nil {
		t.Errorf("SET over mutual TLS: %v", err)
	}
	_ = c.Del(ctx, "junction-test-"+t.Name()).Err()
	_ = c.Close()

	if _, err := openRedis(ctx, url, tlsfiles.Client{CA: certs.CAFile}); err == nil {
		t.Error("no client certificate, to a server requiring one: connected")
	}
	if _, err := openRedis(ctx, url, tlsfiles.Client{CA: certs.CAFile, Cert: certs.OtherClientCert, Key: certs.OtherClientKey}); err == nil {
		t.Error("a client certificate of another CA: connected")
	}
	if _, err := openRedis(ctx, url, tlsfiles.Client{CA: certs.OtherCAFile, Cert: certs.ClientCert, Key: certs.ClientKey}); err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("the wrong CA: %v, want a verification error", err)
	}
	for _, tc := range []struct {
		url   string
		files tlsfiles.Client
		want  string
	}{
		{strings.Replace(url, "rediss://", "redis://", 1), tlsfiles.Client{CA: certs.CAFile}, "must start with rediss://"},
		{"", tlsfiles.Client{CA: certs.CAFile}, "need a rediss:// REDIS_URL"},
		{url, tlsfiles.Client{CA: certs.CAFile, Cert: certs.ClientCert}, "without its key"},
	} {
		if _, err := openRedis(ctx, tc.url, tc.files); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("openRedis(%q, %+v) = %v, want %q", tc.url, tc.files, err, tc.want)
		}
	}
}
