package tlsservers

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
)

// MQTTOptions choose what a mosquitto started by StartMQTT asks of its clients.
type MQTTOptions struct {
	// ClientCerts makes the broker require a client certificate signed by Certs.CA
	// (require_certificate true); otherwise it asks for none.
	ClientCerts bool
}

// MQTT is a mosquitto broker with only a TLS listener, anonymous clients allowed.
type MQTT struct {
	Addr string // 127.0.0.1:port
}

// StartMQTT starts mosquitto with a configuration of its own (one TLS listener on
// 127.0.0.1, no persistence) and certificates from certs, and stops it when tb ends.
func StartMQTT(tb testing.TB, certs *Certs, opts MQTTOptions) *MQTT {
	tb.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		Missing(tb, "mosquitto", err)
	}
	port := FreePort(tb)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	// Run as root, mosquitto drops to user mosquitto before reading the key, which
	// only the test's user may read: it stays the test's user instead.
	me, err := user.Current()
	if err != nil {
		tb.Fatal(err)
	}
	conf := fmt.Sprintf(`user %s
per_listener_settings false
allow_anonymous true
persistence false
log_dest stderr
listener %d 127.0.0.1
cafile %s
certfile %s
keyfile %s
require_certificate %t
`, me.Username, port, certs.CAFile, certs.ServerCert, certs.ServerKey, opts.ClientCerts)
	file := filepath.Join(tb.TempDir(), "mosquitto.conf")
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		tb.Fatal(err)
	}
	startProcess(tb, "mosquitto", exec.Command(bin, "-c", file), addr, " running")
	return &MQTT{Addr: addr}
}

// URL is an ssl:// URL of the broker.
func (m *MQTT) URL() string { return "ssl://" + m.Addr }
