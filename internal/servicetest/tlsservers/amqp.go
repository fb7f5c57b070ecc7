package tlsservers

import (
	"crypto/tls"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/junctionhq/junction/internal/servicetest"
	"github.com/junctionhq/junction/internal/tlsfiles"
)

// RabbitMQAddr is the machine's RabbitMQ, behind the proxy StartRabbitMQ starts.
const RabbitMQAddr = "127.0.0.1:5672"

// RabbitMQOptions choose what the TLS front of StartRabbitMQ asks of its clients.
type RabbitMQOptions struct {
	// ClientCerts makes the front require a client certificate signed by Certs.CA, as
	// RabbitMQ's ssl_options.verify = verify_peer with fail_if_no_peer_cert = true does;
	// otherwise it asks for none.
	ClientCerts bool
}

// RabbitMQ is a TLS listener in front of the machine's RabbitMQ.
type RabbitMQ struct {
	Addr string // 127.0.0.1:port

	l     net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	done  bool
}

// StartRabbitMQ starts a TLS-terminating proxy on 127.0.0.1 at a free port, with the
// server certificate from certs, that forwards each connection to the machine's
// RabbitMQ (RabbitMQAddr, plain AMQP); it stops when tb ends. The test is skipped (or
// fails, with JUNCTION_REQUIRE_SERVICES=1) when that RabbitMQ is not reachable.
//
// Why a proxy and not a RabbitMQ node of the test's own with an ssl listener: a fresh
// node (its own node name, distribution and ssl ports, mnesia, log and plugins files)
// was tried: it starts, but took 52 s to its TLS listener on the loaded 2-core machine
// (RabbitMQ 3.10, 39 s of it creating its tables), too slow for a package's tests. The client's side of TLS — the handshake, the CA, the server's name, the
// client certificate — is the same against either; what the proxy does not show is
// RabbitMQ's own TLS settings (its Erlang TLS, EXTERNAL authentication).
func StartRabbitMQ(tb testing.TB, certs *Certs, opts RabbitMQOptions) *RabbitMQ {
	tb.Helper()
	servicetest.Require(tb, "RabbitMQ", RabbitMQAddr)
	pair, err := tlsfiles.LoadKeyPair(certs.ServerCert, certs.ServerKey)
	if err != nil {
		tb.Fatal(err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}
	if opts.ClientCerts {
		if cfg.ClientCAs, err = tlsfiles.LoadCAPool(certs.CAFile); err != nil {
			tb.Fatal(err)
		}
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		tb.Fatal(err)
	}
	r := &RabbitMQ{Addr: l.Addr().String(), l: l, conns: map[net.Conn]struct{}{}}
	r.wg.Add(1)
	go r.accept()
	tb.Cleanup(r.stop)
	return r
}

// URL is an amqps:// URL of the proxy, as RabbitMQ's guest user.
func (r *RabbitMQ) URL() string { return "amqps://guest:guest@" + r.Addr + "/" }

func (r *RabbitMQ) accept() {
	defer r.wg.Done()
	for {
		c, err := r.l.Accept()
		if err != nil {
			return
		}
		if !r.track(c) {
			_ = c.Close()
			return
		}
		r.wg.Add(1)
		go r.serve(c)
	}
}

// serve finishes the client's handshake (so a refused certificate refuses the client,
// as RabbitMQ would) and then pipes the connection to RabbitMQ both ways.
func (r *RabbitMQ) serve(c net.Conn) {
	defer r.wg.Done()
	defer r.untrack(c)
	if err := c.(*tls.Conn).Handshake(); err != nil {
		return
	}
	up, err := net.Dial("tcp", RabbitMQAddr)
	if err != nil {
		return
	}
	if !r.track(up) {
		_ = up.Close()
		return
	}
	defer r.untrack(up)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(up, c)
		_ = up.Close()
	}()
	_, _ = io.Copy(c, up)
	_ = c.Close()
	<-done
}

func (r *RabbitMQ) track(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return false
	}
	r.conns[c] = struct{}{}
	return true
}

func (r *RabbitMQ) untrack(c net.Conn) {
	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
	_ = c.Close()
}

// stop closes the listener and every connection, and waits for the goroutines.
func (r *RabbitMQ) stop() {
	r.mu.Lock()
	r.done = true
	_ = r.l.Close()
	for c := range r.conns {
		_ = c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}
