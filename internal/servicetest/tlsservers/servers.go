package tlsservers

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/servicetest"
)

// startTimeout bounds a server's start: generous, for a loaded 2-core machine.
const startTimeout = 30 * time.Second

// FreePort returns a port nothing listens on at 127.0.0.1 right now, chosen below the
// kernel's ephemeral range: a port the kernel hands out for ":0" or as the source of an
// outgoing connection (the other test packages make thousands) could be taken again
// before the server binds it, which failed a PostgreSQL start under the full suite.
// Another process may still take it first; the start then fails with the server's log.
func FreePort(tb testing.TB) int {
	tb.Helper()
	low, high := 20000, ephemeralStart()
	for range 100 {
		port := low + rand.IntN(high-low)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			_ = l.Close()
			return port
		}
	}
	tb.Fatalf("tlsservers: no free port in [%d, %d) after 100 tries", low, high)
	return 0
}

// ephemeralStart is the first port of the kernel's ephemeral range (Linux's
// ip_local_port_range; 32768, its default, elsewhere or when it is lower than 21000).
func ephemeralStart() int {
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	fields := strings.Fields(string(data))
	if len(fields) == 0 {
		return 32768
	}
	if n, err := strconv.Atoi(fields[0]); err == nil && n > 21000 {
		return n
	}
	return 32768
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

// run runs a command to its end and returns its combined output with the error.
func run(cmd *exec.Cmd) error {
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v\n%s", cmd.String(), err, out)
	}
	return nil
}
