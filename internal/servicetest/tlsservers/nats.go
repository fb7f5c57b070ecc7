package tlsservers

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/testkit"
)

// NATSOptions choose what a nats-server started by StartNATS asks of its clients.
type NATSOptions struct {
	// ClientCerts makes the server require a client certificate signed by Certs.CA
	// (--tlsverify); otherwise it asks for none.
	ClientCerts bool
}

// NATS is a nats-server with JetStream that accepts only TLS connections.
type NATS struct {
	Addr string // 127.0.0.1:port
}

// StartNATS starts nats-server with TLS required (--tls), JetStream storing in a
// temporary directory, certificates from certs, and stops it when tb ends. It starts in
// well under a second, so each test may have its own.
func StartNATS(tb testing.TB, certs *Certs, opts NATSOptions) *NATS {
	tb.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		Missing(tb, "nats-server", err)
	}
	port := FreePort(tb)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	args := []string{
		"-a", "127.0.0.1", "-p", strconv.Itoa(port), "-js", "-sd", tb.TempDir(),
		"--tls", "--tlscert", certs.ServerCert, "--tlskey", certs.ServerKey,
	}
	if opts.ClientCerts {
		args = append(args, "--tlsverify", "--tlscacert", certs.CAFile)
	}
	startProcess(tb, "nats-server", exec.Command(bin, args...), addr, "Server is ready")
	return &NATS{Addr: addr}
}

// URL is a nats:// URL of the server: the server itself demands TLS.
func (n *NATS) URL() string { return "nats://" + n.Addr }

// startProcess starts cmd, kills it when tb ends, and waits until it listens on addr
// and has written ready (servers open their port before loading their keys); on failure
// the test ends with the server's output.
func startProcess(tb testing.TB, name string, cmd *exec.Cmd, addr, ready string) {
	tb.Helper()
	out := &testkit.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		tb.Fatalf("tlsservers: start %s: %v", name, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	tb.Cleanup(func() {
		_ = cmd.Process.Signal(os.Kill)
		<-exited
	})
	if err := WaitListening(addr, exited); err != nil {
		tb.Fatalf("tlsservers: %s with TLS: %v\n%s", name, err, out.String())
	}
	deadline := time.Now().Add(startTimeout)
	for !strings.Contains(out.String(), ready) {
		select {
		case <-exited:
			tb.Fatalf("tlsservers: %s exited while starting:\n%s", name, out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatalf("tlsservers: %s did not say %q within %s:\n%s", name, ready, startTimeout, out.String())
		}
	}
}
