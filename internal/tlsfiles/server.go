package tlsfiles

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"sync/atomic"
)

// Server holds the API server's TLS settings — its certificate and, optionally, the CA
// that client certificates are checked against — and swaps them atomically on Reload,
// so connections already open keep their session and new handshakes get the new files.
type Server struct {
	certFile, keyFile, clientCA string
	current                     atomic.Pointer[serverState]
}

// serverState is one consistent set of loaded files, with the *tls.Config handshakes use.
type serverState struct {
	cert   *tls.Certificate
	config *tls.Config
}

// NewServer loads the certificate and key (both required) and, when clientCA is not
// "", the CA file client certificates must chain to. Errors name the file at fault.
func NewServer(certFile, keyFile, clientCA string) (*Server, error) {
	switch {
	case certFile == "" && keyFile == "":
		return nil, errors.New("a TLS certificate and key are required (--tls-cert and --tls-key)")
	case certFile == "":
		return nil, errors.New("--tls-key is given without --tls-cert")
	case keyFile == "":
		return nil, errors.New("--tls-cert is given without --tls-key")
	}
	s := &Server{certFile: certFile, keyFile: keyFile, clientCA: clientCA}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload re-reads the files. When any of them is unreadable or wrong, it returns the
// error and the settings in force stay as they were: a botched rotation must not take
// the API off the air.
func (s *Server) Reload() error {
	pair, err := LoadKeyPair(s.certFile, s.keyFile)
	if err != nil {
		return err
	}
	var pool *x509.CertPool
	if s.clientCA != "" {
		if pool, err = LoadCAPool(s.clientCA); err != nil {
			return err
		}
	}
	st := &serverState{cert: &pair}
	st.config = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{pair},
		NextProtos:   []string{"h2", "http/1.1"},
	}
	if pool != nil {
		// IfGiven: machine clients may authenticate with a certificate, everyone else
		// (bearer tokens, the console's session) still connects without one. A
		// certificate that is given must chain to the CA, or the handshake fails.
		st.config.ClientAuth = tls.VerifyClientCertIfGiven
		st.config.ClientCAs = pool
	}
	s.current.Store(st)
	return nil
}

// Config is what the HTTP server listens with: each handshake takes the settings in
// force at that moment.
func (s *Server) Config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return s.current.Load().cert, nil
		},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return s.current.Load().config, nil
		},
	}
}

// Certificate is the certificate in force (its Leaf is set), for logs.
func (s *Server) Certificate() *x509.Certificate { return s.current.Load().cert.Leaf }

// ClientCertificates reports whether client certificates are checked (--tls-client-ca).
func (s *Server) ClientCertificates() bool { return s.clientCA != "" }

// Files names the certificate and key files, for logs.
func (s *Server) Files() (certFile, keyFile string) { return s.certFile, s.keyFile }
