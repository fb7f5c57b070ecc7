// Package tlsfiles turns PEM files named by an operator into TLS settings, with errors
// that name the file at fault: the server's certificate (re-read on reload, the old one
// kept when the new pair is bad), the CA that client certificates must be signed by, and
// an integration's `tls { ca, cert, key, server_name }` for its outbound calls.
//
// Every check a TLS handshake would make late — the file is readable, holds PEM, the key
// belongs to the certificate — is made when the files are loaded, so `junction validate`
// and start-up report it instead of the first connection.
package tlsfiles
