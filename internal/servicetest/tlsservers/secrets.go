package tlsservers

import (
	"os"
	"strings"
	"testing"
)

// NoSecrets fails tb when err shows one of secrets (passwords, user info), a PEM
// header of a private key, or the start of any line of the PEM files keyFiles: what a
// connector's TLS or connection error must never carry.
func NoSecrets(tb testing.TB, err error, secrets []string, keyFiles ...string) {
	tb.Helper()
	msg := err.Error()
	for _, s := range append(secrets, "PRIVATE KEY") {
		if s != "" && strings.Contains(msg, s) {
			tb.Errorf("the error shows a secret (%q): %v", s, err)
		}
	}
	for _, f := range keyFiles {
		data, rerr := os.ReadFile(f)
		if rerr != nil {
			tb.Fatal(rerr)
		}
		for line := range strings.SplitSeq(string(data), "\n") {
			if len(line) >= 20 && !strings.HasPrefix(line, "-----") && strings.Contains(msg, line[:20]) {
				tb.Errorf("the error shows the content of %s: %v", f, err)
				break
			}
		}
	}
}
