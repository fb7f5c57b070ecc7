package app

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/servicetest/tlsservers"
)

// TestRedisURLWithTLS: REDIS_URL takes TLS through its scheme, rediss://, and verifies
// the server against the system's CAs, which Go reads from SSL_CERT_FILE: that is how a
// private CA is given. The system's CAs are loaded once per process, so the case that
// trusts the test's CA runs in a child process of this test binary.
func TestRedisURLWithTLS(t *testing.T) {
	if url := os.Getenv("JUNCTION_TEST_REDISS_URL"); url != "" {
		// The child: SSL_CERT_FILE is the test's CA.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := openRedis(ctx, url)
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
	_, err := openRedis(ctx, url)
	if err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("rediss:// to a server of an unknown CA: %v, want a verification error without the password", err)
	}
	if _, err := openRedis(ctx, strings.Replace(url, "rediss://", "redis://", 1)); err == nil {
		t.Fatal("redis:// (plain text) to a TLS-only server connected")
	}

	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestRedisURLWithTLS$", "-test.count=1")
	cmd.Env = append(os.Environ(), "JUNCTION_TEST_REDISS_URL="+url, "SSL_CERT_FILE="+certs.CAFile, "SSL_CERT_DIR=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rediss:// with SSL_CERT_FILE naming the CA: %v\n%s", err, out)
	}
}
