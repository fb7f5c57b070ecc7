package tlsservers

import (
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/junctionhq/junction/internal/testkit"
)

// RedisOptions choose what a Redis started by StartRedis asks of its clients.
type RedisOptions struct {
	// ClientCerts makes the server require a client certificate signed by Certs.CA
	// (--tls-auth-clients yes); otherwise it asks for none.
	ClientCerts bool
	// Password, when set, is required (requirepass), for tests that show it never
	// appears in an error.
	Password string
}

// Redis is a redis-server that listens only with TLS.
type Redis struct {
	Addr string // 127.0.0.1:port
}

// StartRedis starts redis-server with only a TLS port (no plain-text one), certificates
// from certs, no persistence, and stops it when tb ends.
func StartRedis(tb testing.TB, certs *Certs, opts RedisOptions) *Redis {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		Missing(tb, "redis-server", err)
	}
	dir := tb.TempDir()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(tb)))
	_, port, _ := net.SplitHostPort(addr)
	auth := "no"
	if opts.ClientCerts {
		auth = "yes"
	}
	args := []string{
		"--port", "0", "--bind", "127.0.0.1", "--tls-port", port,
		"--tls-cert-file", certs.ServerCert, "--tls-key-file", certs.ServerKey,
		"--tls-ca-cert-file", certs.CAFile, "--tls-auth-clients", auth,
		"--save", "", "--appendonly", "no", "--dir", dir,
	}
	if opts.Password != "" {
		args = append(args, "--requirepass", opts.Password)
	}
	cmd := exec.Command(bin, args...)
	out := &testkit.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		tb.Fatalf("tlsservers: start redis-server: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	tb.Cleanup(func() {
		_ = cmd.Process.Signal(os.Kill)
		<-exited
	})
	if err := WaitListening(addr, exited); err != nil {
		tb.Fatalf("tlsservers: redis-server with TLS: %v\n%s", err, out.String())
	}
	return &Redis{Addr: addr}
}

// URL is a rediss:// URL of the server (with the password when one is required).
func (r *Redis) URL(password string) string {
	u := url.URL{Scheme: "rediss", Host: r.Addr, Path: "/0"}
	if password != "" {
		u.User = url.UserPassword("", password)
	}
	return u.String()
}
