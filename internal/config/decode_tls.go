package config

import (
	"path/filepath"
	"strings"

	"github.com/junctionhq/junction/internal/tlsfiles"
)

// tls reads `tls { ca: "ca.pem", cert: "client.crt", key: "client.key", server_name: "…" }`.
// Relative paths are relative to the configuration file's directory, like a flow step's
// file("schema.json"). The files are checked here, so `junction validate` and a reload
// report an unreadable file, a file without PEM or a key that does not belong to its
// certificate at the setting that names it.
func (d *decoder) tls(e *Entry) *TLS {
	_, entries, ok := d.object(e)
	if !ok {
		return nil
	}
	t := &TLS{Pos: e.KeyPos}
	var caPos, certPos, keyPos Pos
	file := func(e *Entry, dst *string, pos *Pos) {
		p, ok := d.str(e)
		if !ok {
			return
		}
		*pos = e.Value.Pos
		if p == "" {
			d.rep.errorf(*pos, "%s: expected a file path, found an empty string", e.Key)
			return
		}
		if !filepath.IsAbs(p) && e.KeyPos.File != "" {
			p = filepath.Join(filepath.Dir(e.KeyPos.File), p)
		}
		*dst = p
	}
	d.block("tls", entries, map[string]setting{
		"ca":          func(e *Entry) { file(e, &t.CA, &caPos) },
		"cert":        func(e *Entry) { file(e, &t.Cert, &certPos) },
		"key":         func(e *Entry) { file(e, &t.Key, &keyPos) },
		"server_name": func(e *Entry) { t.ServerName, _ = d.str(e) },
	})
	switch {
	case t.Cert != "" && t.Key == "" && keyPos == (Pos{}):
		d.rep.errorf(t.Pos, "tls: cert is given without key; a client certificate needs both")
	case t.Key != "" && t.Cert == "" && certPos == (Pos{}):
		d.rep.errorf(t.Pos, "tls: key is given without cert; a client certificate needs both")
	case t.CA == "" && t.Cert == "" && t.ServerName == "" && caPos == (Pos{}) && certPos == (Pos{}):
		d.rep.warnf(t.Pos, "tls sets nothing: give ca, cert and key, or server_name")
	}
	if t.CA != "" {
		if _, err := tlsfiles.LoadCAPool(t.CA); err != nil {
			d.rep.errorf(caPos, "tls ca: %v", err)
		}
	}
	if t.Cert != "" && t.Key != "" {
		if _, err := tlsfiles.LoadKeyPair(t.Cert, t.Key); err != nil {
			at := certPos
			if strings.HasPrefix(err.Error(), "key file") {
				at = keyPos
			}
			d.rep.errorf(at, "tls: %v", err)
		}
	}
	return t
}

// ClientFiles is the block as tlsfiles reads it.
func (t *TLS) ClientFiles() tlsfiles.Client {
	return tlsfiles.Client{CA: t.CA, Cert: t.Cert, Key: t.Key, ServerName: t.ServerName}
}
