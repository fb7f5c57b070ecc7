package credential_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/credential"
)

const hmacSecret = "whsec_0123456789abcdef"

func hmacApplier(t *testing.T, clk clock.Clock, algorithm string) credential.Applier {
	t.Helper()
	return mustNew(t, &config.Auth{Kind: config.AuthHMAC, Secret: envVal("HMAC_SECRET"), Header: "X-Junction-Signature", Algorithm: algorithm},
		map[string]string{"HMAC_SECRET": hmacSecret}, credential.Options{Clock: clk})
}

// independentMAC computes the documented scheme without the package's code, so a change
// to the scheme fails the tests instead of silently changing both sides.
func independentMAC(newHash func() hash.Hash, secret string, t int64, method, target string, body []byte) string {
	m := hmac.New(newHash, []byte(secret))
	m.Write([]byte(strconv.FormatInt(t, 10) + "." + method + "." + target + "."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// A receiver verifies what Apply sent, over the wire, with what it received.
func TestHMACRoundTripThroughAServer(t *testing.T) {
	clk := clock.NewFake(start)
	for _, alg := range []string{"", "sha256", "sha512"} {
		t.Run("algorithm "+alg, func(t *testing.T) {
			verified := make(chan error, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				verified <- credential.VerifyHMAC([]byte(hmacSecret), alg, r.Header.Get("X-Junction-Signature"),
					r.Method, r.RequestURI, body, clk.Now().Add(3*time.Second), 0)
			}))
			defer srv.Close()
			body := []byte(`{"amount":100,"currency":"eur","note":"caf\u00e9 & co"}` + "\x00\xff")
			req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL+"/v1/charges/ch%2F1?expand=customer&q=a+b%20c", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if err := hmacApplier(t, clk, alg).Apply(context.Background(), req, body); err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if err := <-verified; err != nil {
				t.Errorf("VerifyHMAC: %v", err)
			}
		})
	}
}

func TestHMACHeaderFormat(t *testing.T) {
	clk := clock.NewFake(start)
	body := []byte(`{"a":1}`)
	for alg, newHash := range map[string]func() hash.Hash{"sha256": sha256.New, "sha512": sha512.New} {
		req := httptest.NewRequest(http.MethodPost, "https://api.example.com/v1/orders?id=7&x=a%20b", nil)
		if err := hmacApplier(t, clk, alg).Apply(context.Background(), req, body); err != nil {
			t.Fatal(err)
		}
		want := "t=" + strconv.FormatInt(start.Unix(), 10) + ",v1=" +
			independentMAC(newHash, hmacSecret, start.Unix(), "POST", "/v1/orders?id=7&x=a%20b", body)
		if got := req.Header.Get("X-Junction-Signature"); got != want {
			t.Errorf("%s: header = %q, want %q", alg, got, want)
		}
		if !regexp.MustCompile(`^t=\d+,v1=[0-9a-f]+$`).MatchString(want) {
			t.Errorf("%s: header %q does not have the documented shape", alg, want)
		}
	}
}

func TestVerifyHMACRejects(t *testing.T) {
	clk := clock.NewFake(start)
	body := []byte("amount=100")
	req := httptest.NewRequest(http.MethodPut, "https://api.example.com/v1/orders/7?notify=true", nil)
	if err := hmacApplier(t, clk, "sha256").Apply(context.Background(), req, body); err != nil {
		t.Fatal(err)
	}
	header := req.Header.Get("X-Junction-Signature")
	sha512Req := req.Clone(context.Background())
	if err := hmacApplier(t, clk, "sha512").Apply(context.Background(), sha512Req, body); err != nil {
		t.Fatal(err)
	}
	sha512Header := sha512Req.Header.Get("X-Junction-Signature")

	type input struct {
		secret, alg, header, method, target string
		body                                []byte
		now                                 time.Time
		tolerance                           time.Duration
	}
	good := input{hmacSecret, "sha256", header, "PUT", "/v1/orders/7?notify=true", body, start, time.Minute}
	if err := credential.VerifyHMAC([]byte(good.secret), good.alg, good.header, good.method, good.target, good.body, good.now, good.tolerance); err != nil {
		t.Fatalf("the genuine request: %v", err)
	}
	tests := []struct {
		name   string
		change func(in *input)
		want   error // nil: accepted
	}{
		{"sha512 variant", func(in *input) { in.alg, in.header = "sha512", sha512Header }, nil},
		{"within tolerance, late", func(in *input) { in.now = start.Add(time.Minute) }, nil},
		{"within tolerance, early", func(in *input) { in.now = start.Add(-time.Minute) }, nil},
		{"default tolerance", func(in *input) { in.tolerance, in.now = 0, start.Add(5*time.Minute) }, nil},
		{"a rotated secret among several v1", func(in *input) {
			in.header = "t=" + strconv.FormatInt(start.Unix(), 10) + ",v1=00ff," + strings.Split(header, ",")[1]
		}, nil},
		{"unknown entries and spaces", func(in *input) { in.header = "v0=zz, " + strings.ReplaceAll(header, ",", " , ") }, nil},

		{"changed body", func(in *input) { in.body = []byte("amount=900") }, credential.ErrHMACMismatch},
		{"empty body", func(in *input) { in.body = nil }, credential.ErrHMACMismatch},
		{"changed path", func(in *input) { in.target = "/v1/orders/8?notify=true" }, credential.ErrHMACMismatch},
		{"changed query", func(in *input) { in.target = "/v1/orders/7?notify=false" }, credential.ErrHMACMismatch},
		{"changed method", func(in *input) { in.method = "DELETE" }, credential.ErrHMACMismatch},
		{"wrong secret", func(in *input) { in.secret = "whsec_other" }, credential.ErrHMACMismatch},
		{"sha256 header checked as sha512", func(in *input) { in.alg = "sha512" }, credential.ErrHMACMismatch},
		{"sha512 header checked as sha256", func(in *input) { in.header = sha512Header }, credential.ErrHMACMismatch},
		{"timestamp changed", func(in *input) {
			in.header = strings.Replace(header, strconv.FormatInt(start.Unix(), 10), strconv.FormatInt(start.Unix()+1, 10), 1)
		}, credential.ErrHMACMismatch},
		{"expired", func(in *input) { in.now = start.Add(time.Minute + time.Second) }, credential.ErrHMACExpired},
		{"from the future", func(in *input) { in.now = start.Add(-time.Minute - time.Second) }, credential.ErrHMACExpired},
		{"past the default tolerance", func(in *input) { in.tolerance, in.now = 0, start.Add(5*time.Minute+time.Second) }, credential.ErrHMACExpired},
		{"empty header", func(in *input) { in.header = "" }, credential.ErrHMACMalformed},
		{"no t", func(in *input) { in.header = strings.Split(header, ",")[1] }, credential.ErrHMACMalformed},
		{"no v1", func(in *input) { in.header = strings.Split(header, ",")[0] }, credential.ErrHMACMalformed},
		{"two t", func(in *input) { in.header = "t=1," + header }, credential.ErrHMACMalformed},
		{"signed t", func(in *input) { in.header = "t=+" + strings.TrimPrefix(header, "t=") }, credential.ErrHMACMalformed},
		{"t not a number", func(in *input) { in.header = "t=yesterday," + strings.Split(header, ",")[1] }, credential.ErrHMACMalformed},
		{"entry without =", func(in *input) { in.header = header + ",v1" }, credential.ErrHMACMalformed},
		{"v1 not hex", func(in *input) { in.header = strings.Split(header, ",")[0] + ",v1=not-hex" }, credential.ErrHMACMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := good
			tt.change(&in)
			err := credential.VerifyHMAC([]byte(in.secret), in.alg, in.header, in.method, in.target, in.body, in.now, in.tolerance)
			switch {
			case tt.want == nil && err != nil:
				t.Errorf("rejected: %v", err)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Errorf("error = %v, want %v", err, tt.want)
			}
			if err != nil && (strings.Contains(err.Error(), hmacSecret) || strings.Contains(err.Error(), strings.Split(header, "v1=")[1])) {
				t.Errorf("error %q reveals the secret or the expected signature", err)
			}
		})
	}
	if err := credential.VerifyHMAC([]byte(hmacSecret), "md5", header, "PUT", "/", body, start, 0); err == nil || !strings.Contains(err.Error(), "md5") {
		t.Errorf("unsupported algorithm: %v", err)
	}
}

func FuzzVerifyHMAC(f *testing.F) {
	now := start.Unix()
	good := "t=" + strconv.FormatInt(now, 10) + ",v1=" + independentMAC(sha256.New, hmacSecret, now, "POST", "/x?y=1", []byte("b"))
	for _, seed := range []string{good, "", "t=", "v1=", "t=1,v1=", ",", "=,=", "t=99999999999999999999,v1=00", "t=-1,v1=00",
		"t=1,t=2,v1=aa", " t = 1 , v1 = ab ", "t=1,v1=" + strings.Repeat("a", 200), strings.Repeat("v1=a,", 1000) + "t=1"} {
		f.Add(seed, "POST", "/x?y=1", []byte("b"), int64(0))
	}
	f.Fuzz(func(t *testing.T, header, method, target string, body []byte, skew int64) {
		at := time.Unix(now, 0).Add(time.Duration(skew))
		// Whatever the header, no panic, and acceptance means a correct v1 was present.
		if err := credential.VerifyHMAC([]byte(hmacSecret), "sha256", header, method, target, body, at, time.Hour); err == nil {
			want := independentMAC(sha256.New, hmacSecret, now, method, target, body)
			if !strings.Contains(strings.ToLower(header), want) {
				t.Errorf("accepted %q for %s %s without the right signature", header, method, target)
			}
		}
		// What the documented scheme produces for any method, target and body verifies.
		sig := "t=" + strconv.FormatInt(now, 10) + ",v1=" + independentMAC(sha512.New, hmacSecret, now, method, target, body)
		if err := credential.VerifyHMAC([]byte(hmacSecret), "sha512", sig, method, target, body, time.Unix(now, 0), time.Minute); err != nil {
			t.Errorf("genuine signature rejected: %v", err)
		}
	})
}
