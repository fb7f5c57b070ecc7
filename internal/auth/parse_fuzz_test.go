package auth

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseBearer checks that no header value makes parsing panic, that every rejection
// wraps ErrUnauthenticated without echoing the input, and that accepted secrets have the
// issued shape. The seeds run as part of go test.
func FuzzParseBearer(f *testing.F) {
	for _, seed := range []string{"", "Bearer", "Bearer ", "bearer " + newSecret(), "Basic x", "Bearer jct_\x00", "Bearer " + strings.Repeat("a", 1000)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		secret, err := parseBearer(header)
		if err != nil {
			if !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("error %v does not wrap ErrUnauthenticated", err)
			}
			if len(header) > 10 && strings.Contains(err.Error(), header) {
				t.Fatalf("error echoes the header: %v", err)
			}
			return
		}
		if !wellFormedSecret(secret) || !strings.HasPrefix(secret, SecretPrefix) {
			t.Fatalf("accepted %q", secret)
		}
	})
}
