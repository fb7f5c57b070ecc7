package tlsfiles

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// readPEM reads a file that must hold at least one PEM block; what names the file in
// errors ("CA file", "certificate file", "key file").
func readPEM(what, path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // PathError repeats the path, which the message already names
		}
		return nil, fmt.Errorf("%s %s cannot be read: %w", what, path, err)
	}
	if b, _ := pem.Decode(data); b == nil {
		return nil, fmt.Errorf("%s %s holds no PEM block (expected -----BEGIN …-----)", what, path)
	}
	return data, nil
}

// LoadCAPool reads the CA certificates in a PEM file: at least one, and every
// CERTIFICATE block must parse.
func LoadCAPool(path string) (*x509.CertPool, error) {
	data, err := readPEM("CA file", path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	n := 0
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("CA file %s: certificate %d does not parse: %w", path, n+1, err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("CA file %s holds no CERTIFICATE block", path)
	}
	return pool, nil
}

// LoadKeyPair reads a certificate (chain) and its private key, and checks that the key
// belongs to the certificate.
func LoadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := readPEM("certificate file", certFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyPEM, err := readPEM("key file", keyFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certificate file %s and key file %s: %w", certFile, keyFile, err)
	}
	// X509KeyPair fills Leaf since Go 1.23; the server logs its subject and expiry.
	if pair.Leaf == nil {
		if pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return tls.Certificate{}, fmt.Errorf("certificate file %s: %w", certFile, err)
		}
	}
	return pair, nil
}

// Client is an integration's `tls { … }`: paths as the configuration resolved them.
type Client struct {
	CA         string // PEM CA certificates the server's certificate must chain to; "" means the system's
	Cert, Key  string // client certificate and key for mutual TLS; both or neither
	ServerName string // the name the server's certificate must carry; "" means the URL's host
}

// ClientConfig loads the files and returns the *tls.Config of an outbound client.
func ClientConfig(c Client) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	if c.CA != "" {
		pool, err := LoadCAPool(c.CA)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	switch {
	case c.Cert != "" && c.Key != "":
		pair, err := LoadKeyPair(c.Cert, c.Key)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{pair}
	case c.Cert != "":
		return nil, fmt.Errorf("certificate file %s is given without its key file", c.Cert)
	case c.Key != "":
		return nil, fmt.Errorf("key file %s is given without its certificate file", c.Key)
	}
	return cfg, nil
}
