package servicetest

import (
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

// FaultProxy forwards TCP connections from a loopback port to a service and fails on
// demand the ways a database server or the network in front of it fails, so a test can
// check what its clients do meanwhile and that they recover after Heal. It stops when the
// test ends.
type FaultProxy struct {
	tb     testing.TB
	target string
	addr   string // fixed at start, kept across Refuse/Heal
	done   chan struct{}
	wg     sync.WaitGroup

	mu      sync.Mutex
	l       net.Listener // nil while refusing
	mode    proxyMode
	perByte time.Duration // the delay of modeSlow
	latency time.Duration // the delay of modeDelay
	conns   map[net.Conn]struct{}
	stopped bool
}

type proxyMode int

const (
	modeForward   proxyMode = iota
	modeBlackHole           // accept, read, forward nothing
	modeSlow                // forward one byte at a time, perByte apart
	modeDelay               // forward each chunk read, latency after it was read
)

// NewFaultProxy starts a proxy that forwards to target (host:port).
func NewFaultProxy(tb testing.TB, target string) *FaultProxy {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("fault proxy: listen: %v", err)
		return nil
	}
	p := &FaultProxy{tb: tb, target: target, addr: l.Addr().String(), done: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	p.serve(l)
	tb.Cleanup(p.stop)
	return p
}

// Addr is the address clients should use instead of the service's.
func (p *FaultProxy) Addr() string { return p.addr }

// Refuse closes the port and every connection: new connections are refused (as when
// the server is down), connections in use break.
func (p *FaultProxy) Refuse() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.l != nil {
		_ = p.l.Close()
		p.l = nil
	}
	p.cutLocked()
}

// BlackHole keeps every connection open, and goes on accepting new ones, but forwards
// nothing in either direction from now on: a server that hangs, or a network that drops
// packets without resetting connections.
func (p *FaultProxy) BlackHole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = modeBlackHole
}

// Slow forwards every byte, in both directions, perByte after the one before it.
func (p *FaultProxy) Slow(perByte time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode, p.perByte = modeSlow, perByte
}

// Delay forwards everything, in both directions, but each chunk read latency after it
// arrived: a slow or distant network, where Slow is a slow link. Chunks on one
// connection keep their order (the wait is per read, so latencies add up on a busy
// connection, as on a congested link).
func (p *FaultProxy) Delay(latency time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode, p.latency = modeDelay, latency
}

// Heal forwards normally again. Connections that lived through the fault are closed,
// as a client or a network would eventually drop them; new ones work at once.
func (p *FaultProxy) Heal() {
	p.tb.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = modeForward
	p.cutLocked()
	if p.l == nil && !p.stopped {
		l, err := net.Listen("tcp", p.addr)
		if err != nil {
			p.tb.Fatalf("fault proxy: listen again on %s: %v", p.addr, err)
			return
		}
		p.serve(l)
	}
}

// serve accepts on l until it is closed. Called with p.mu held or before p is shared.
func (p *FaultProxy) serve(l net.Listener) {
	p.l = l
	p.wg.Add(1)
	go p.accept(l)
}

func (p *FaultProxy) stop() {
	p.mu.Lock()
	p.stopped = true
	close(p.done)
	if p.l != nil {
		_ = p.l.Close()
		p.l = nil
	}
	p.cutLocked()
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *FaultProxy) cutLocked() {
	for c := range p.conns {
		_ = c.Close()
		delete(p.conns, c)
	}
}

func (p *FaultProxy) accept(l net.Listener) {
	defer p.wg.Done()
	for {
		in, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = in.Close()
			continue
		}
		p.mu.Lock()
		if p.stopped || p.l != l { // refused (or stopped) while dialling
			p.mu.Unlock()
			_ = in.Close()
			_ = out.Close()
			continue
		}
		p.conns[in], p.conns[out] = struct{}{}, struct{}{}
		p.wg.Add(2)
		p.mu.Unlock()
		go p.pipe(in, out)
		go p.pipe(out, in)
	}
}

// pipe copies src to dst as the mode says, checked on every read; when either side
// ends, both are closed.
func (p *FaultProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	defer func() {
		p.mu.Lock()
		delete(p.conns, dst)
		delete(p.conns, src)
		p.mu.Unlock()
		_ = dst.Close()
		_ = src.Close()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.forward(dst, buf[:n]) {
			return
		}
		if err != nil {
			return
		}
	}
}

// forward writes b to dst unless the proxy black-holes it; false means stop.
func (p *FaultProxy) forward(dst net.Conn, b []byte) bool {
	p.mu.Lock()
	mode, perByte, latency := p.mode, p.perByte, p.latency
	p.mu.Unlock()
	switch mode {
	case modeBlackHole:
		return true
	case modeDelay:
		t := time.NewTimer(latency)
		defer t.Stop()
		select {
		case <-p.done:
			return false
		case <-t.C:
		}
	case modeSlow:
		t := time.NewTimer(perByte)
		defer t.Stop()
		for i := range b {
			select {
			case <-p.done:
				return false
			case <-t.C:
			}
			if _, err := dst.Write(b[i : i+1]); err != nil {
				return false
			}
			t.Reset(perByte)
		}
		return true
	}
	_, err := dst.Write(b)
	return err == nil
}
