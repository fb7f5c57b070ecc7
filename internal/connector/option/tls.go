package option

import (
	"crypto/tls"
	"errors"
	"path/filepath"
	"strings"

	"github.com/junctionhq/junction/internal/tlsfiles"
)

// TLSName is the name of the option TLS declares.
const TLSName = "tls"

// tlsDoc is what the option is, the same in every connector.
const tlsDoc = `TLS for the connection: true checks the server's certificate against the system's CAs; a block
{ ca, cert, key, server_name } names a private CA, a client certificate and key for mutual TLS,
or the name the server's certificate must carry (default: the host connected to). Set, it
requires TLS: the connection never falls back to plain text. Relative paths are relative to
the configuration file; the files are read when the options are decoded, so an unreadable
file, a file without PEM or a key that does not belong to its certificate is reported there.`

// TLS declares a connector's `tls` option, the same in every connector that offers one:
//
//	tls: true
//	tls: { ca: "ca.pem", cert: "client.crt", key: "client.key", server_name: "db.internal" }
//
// more is appended to the description: what the option does with the connector's URL.
// Read it with TLSConfig; the files are loaded (tlsfiles) while the options are decoded,
// each error reported at the key that names the file.
func TLS(more string) Field {
	desc := tlsDoc
	if more != "" {
		desc += " " + more
	}
	return Field{
		Name: TLSName, Type: Block, Switch: true, Description: desc,
		Example: `{ ca: "ca.pem", cert: "client.crt", key: "client.key" }`,
		Fields: []Field{
			{Name: "ca", Type: String, Parse: Check(notEmpty),
				Description: "a PEM file of the CA certificates the server's certificate must chain to; default: the system's."},
			{Name: "cert", Type: String, Parse: Check(notEmpty),
				Description: "a PEM file of the client certificate (chain) for mutual TLS; needs key."},
			{Name: "key", Type: String, Parse: Check(notEmpty),
				Description: "a PEM file of the client certificate's private key; needs cert."},
			{Name: "server_name", Type: String,
				Description: "the name the server's certificate must carry, when it is not the host connected to."},
		},
		Parse: parseTLS,
	}
}

// TLSConfig returns the client TLS settings of the option TLS declared: nil when TLS is
// off (the option not set, or false), else a config of its own the caller may change.
// Its ServerName is empty unless server_name is set: fill in the host connected to.
func TLSConfig(v *Values) *tls.Config {
	c := Get[*tls.Config](v, TLSName)
	if c == nil {
		return nil
	}
	return c.Clone()
}

func notEmpty(s string) error {
	if s == "" {
		return errors.New("expected a file path, found an empty string")
	}
	return nil
}

// parseTLS loads the block's files into a *tls.Config (nil for `tls: false`). A file
// problem is reported at the key naming the file; the message names the file, never its
// contents.
func parseTLS(val any) (any, error) {
	b, _ := val.(*Values)
	if b == nil {
		return (*tls.Config)(nil), nil
	}
	files := tlsfiles.Client{CA: b.path("ca"), Cert: b.path("cert"), Key: b.path("key"), ServerName: b.String("server_name")}
	if files.Cert != "" || files.Key != "" {
		b.Missing("cert", "a client certificate needs both cert and key")
		b.Missing("key", "a client certificate needs both cert and key")
	}
	if !b.OK("ca") || !b.OK("cert") || !b.OK("key") {
		return (*tls.Config)(nil), nil
	}
	cfg, err := tlsfiles.ClientConfig(files)
	if err != nil {
		// tlsfiles starts each message with the file it is about.
		switch msg := err.Error(); {
		case strings.HasPrefix(msg, "CA file"):
			b.Fail("ca", "%s", msg)
		case strings.HasPrefix(msg, "key file"):
			b.Fail("key", "%s", msg)
		default:
			b.Fail("cert", "%s", msg)
		}
		return (*tls.Config)(nil), nil
	}
	return cfg, nil
}

// path is a file option made absolute against the directory of the configuration file
// it is written in, as the integrations' tls block does.
func (v *Values) path(name string) string {
	p := v.String(name)
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	if e, ok := v.opts.Get(name); ok && e.Pos.File != "" {
		return filepath.Join(filepath.Dir(e.Pos.File), p)
	}
	return p
}
