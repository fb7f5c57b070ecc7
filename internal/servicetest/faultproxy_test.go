package servicetest

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// echoServer answers every connection with what it reads.
func echoServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		<-done
	})
	return l.Addr().String()
}

// echoes reports whether msg comes back on c within wait.
func echoes(t *testing.T, c net.Conn, msg string, wait time.Duration) bool {
	t.Helper()
	if _, err := c.Write([]byte(msg)); err != nil {
		return false
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, len(msg))
	_, err := io.ReadFull(c, buf)
	return err == nil && string(buf) == msg
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestFaultProxy(t *testing.T) {
	p := NewFaultProxy(t, echoServer(t))
	const patience = 10 * time.Second // for what must arrive

	c := dial(t, p.Addr())
	if !echoes(t, c, "hello", patience) {
		t.Fatal("no echo through a healthy proxy")
	}

	p.BlackHole()
	if echoes(t, c, "lost", 200*time.Millisecond) {
		t.Error("an open connection got an answer through a black hole")
	}
	if echoes(t, dial(t, p.Addr()), "lost", 200*time.Millisecond) {
		t.Error("a new connection got an answer through a black hole")
	}

	p.Heal()
	_ = c.SetReadDeadline(time.Now().Add(patience))
	if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("a connection that lived through the fault still reads: %v", err)
	}
	if !echoes(t, dial(t, p.Addr()), "again", patience) {
		t.Fatal("no echo after Heal")
	}

	p.Refuse()
	if c, err := net.Dial("tcp", p.Addr()); err == nil {
		_ = c.Close()
		t.Error("a refusing proxy accepted a connection")
	}
	p.Heal()
	if !echoes(t, dial(t, p.Addr()), "back", patience) {
		t.Fatal("no echo after Heal from Refuse")
	}

	p.Slow(time.Millisecond)
	start := time.Now()
	if !echoes(t, dial(t, p.Addr()), "slowly", patience) {
		t.Fatal("no echo through a slow proxy")
	}
	t.Logf("6 bytes there and back through a proxy slowed to 1 ms per byte: %v", time.Since(start))

	// Delay: each chunk waits, both ways; a round trip takes at least twice the latency.
	p.Heal()
	const latency = 50 * time.Millisecond
	p.Delay(latency)
	start = time.Now()
	if !echoes(t, dial(t, p.Addr()), "delayed", patience) {
		t.Fatal("no echo through a delaying proxy")
	}
	if rtt := time.Since(start); rtt < 2*latency {
		t.Errorf("a round trip through a proxy delaying %v each way took %v", latency, rtt)
	}
	p.Heal()
	if !echoes(t, dial(t, p.Addr()), "prompt", patience) {
		t.Fatal("no echo after Heal from Delay")
	}
}
