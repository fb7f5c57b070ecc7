package tlsservers

import (
	"os"
	"testing"

	"github.com/junctionhq/junction/internal/tlsfiles/tlstest"
)

// ClientCN is the subject CN of Certs' client certificate; PostgreSQL's cert
// authentication takes it as the user name (PostgresCertUser).
const ClientCN = "junction_cert"

// Certs are the PEM files of one test's PKI, in a directory readable by the servers'
// users (a PostgreSQL started with runuser reads them as user postgres).
type Certs struct {
	Dir    string
	CA     *tlstest.CA
	CAFile string // the CA that signed the server and client certificates
	// ServerCert and ServerKey name localhost, 127.0.0.1 and ::1.
	ServerCert, ServerKey string
	// ClientCert and ClientKey are signed by CA, CN ClientCN.
	ClientCert, ClientKey string
	// OtherCAFile is a CA that signed nothing here: the wrong CA for a client, and
	// OtherClientCert/OtherClientKey, which it signed, a client certificate the servers
	// must refuse.
	OtherCAFile                     string
	OtherClientCert, OtherClientKey string
}

// NewCerts makes a CA, a server and a client certificate, and an unrelated CA with a
// client certificate of its own, as files in a new directory removed when tb ends.
func NewCerts(tb testing.TB) *Certs {
	tb.Helper()
	dir, err := os.MkdirTemp("", "junction-tls-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = os.RemoveAll(dir) })
	// MkdirTemp's 0700 would keep a server running as another user out.
	if err := os.Chmod(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	c := &Certs{Dir: dir, CA: tlstest.NewCA(tb, "junction test CA")}
	c.CAFile = c.CA.WriteCA(dir, "ca.pem")
	c.ServerCert, c.ServerKey = c.CA.Server().Write(tb, dir, "server")
	c.ClientCert, c.ClientKey = c.CA.Client(ClientCN).Write(tb, dir, "client")
	other := tlstest.NewCA(tb, "some other CA")
	c.OtherCAFile = other.WriteCA(dir, "other-ca.pem")
	c.OtherClientCert, c.OtherClientKey = other.Client(ClientCN).Write(tb, dir, "other-client")
	return c
}
