package tlsservers

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/servicetest"
)

// startTimeout bounds a server's start: generous, for a loaded 2-core machine.
const startTimeout = 30 * time.Second

// FreePort returns a port nothing listens on at 127.0.0.1 right now. Another process
// may take it before the server does; the start then fails with the server's log.
func FreePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// Missing ends tb because a server's binary (or the user to run it) is not there: a skip
// during everyday development, a failure where every service is promised.
func Missing(tb testing.TB, what string, err error) {
	tb.Helper()
	if required, _ := strconv.ParseBool(os.Getenv(servicetest.EnvRequireServices)); required {
		tb.Fatalf("tlsservers: %s is not available and %s is set: %v", what, servicetest.EnvRequireServices, err)
	}
	tb.Skipf("tlsservers: skipping, %s is not available (set %s=1 to fail instead): %v", what, servicetest.EnvRequireServices, err)
}

// WaitListening polls addr until it accepts TCP connections, the process exits, or
// startTimeout passes.
func WaitListening(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(startTimeout)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return conn.Close()
		}
		select {
		case <-exited:
			return fmt.Errorf("the server exited before listening on %s", addr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %s: %v", addr, startTimeout, err)
		}
	}
}

// syncBuffer is a server's output, written by exec's copying goroutine and read by the
// test on failure.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// run runs a command to its end and returns its combined output with the error.
func run(cmd *exec.Cmd) error {
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v\n%s", cmd.String(), err, out)
	}
	return nil
}
