package redact

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	cases := map[string]string{
		"http://api.example/v1/x":                     "http://api.example/v1/x",
		"http://api.example/x?appid=K3Y&units=metric": "http://api.example/x?appid=[REDACTED]&units=[REDACTED]",
		"https://user:pa55@api.example/x#frag":        "https://api.example/x",
		"http://api.example/x?a=1&a=2":                "http://api.example/x?a=[REDACTED]&a=[REDACTED]",
		"http://a b/\x7f":                             Mask,
	}
	for in, want := range cases {
		if got := URL(in); got != want {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
	}
}

// A real failed request: the client's error names the URL with its key; the redacted
// error does not, and still says it was refused.
func TestErrorFromHTTPClient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: connection refused

	const key = "sekret-api-key-123"
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://u:"+key+"@"+addr+"/v1/w?appid="+key, nil)
	_, err = http.DefaultClient.Do(req)
	if err == nil || !strings.Contains(err.Error(), key) {
		t.Fatalf("precondition: the client's error should name the key, got %v", err)
	}
	red := Error(err)
	if strings.Contains(red.Error(), key) {
		t.Fatalf("redacted error still holds the key: %v", red)
	}
	if !strings.Contains(red.Error(), "/v1/w?appid="+Mask) || !strings.Contains(red.Error(), "connection refused") {
		t.Fatalf("redacted error lost its useful parts: %v", red)
	}
	var op *net.OpError
	if !errors.As(red, &op) {
		t.Fatalf("cause not reachable through the redacted error: %T", errors.Unwrap(red))
	}
	if Error(nil) != nil {
		t.Fatal("Error(nil) != nil")
	}
	plain := errors.New("plain")
	if Error(plain) != plain {
		t.Fatal("an error without a URL should come back unchanged")
	}
}

func TestErrorKeepsTimeout(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:1/?k=secretvalue", nil)
	_, err := http.DefaultClient.Do(req)
	red := Error(err)
	if !errors.Is(red, context.Canceled) {
		t.Fatalf("errors.Is(context.Canceled) lost: %v", red)
	}
	if strings.Contains(red.Error(), "secretvalue") {
		t.Fatalf("leak: %v", red)
	}
}

func TestScrubber(t *testing.T) {
	s := NewScrubber("abc", "topsecret", "top secret/+", "topsecretlonger")
	in := "a topsecretlonger b topsecret c top+secret%2F%2B d top%20secret%2F+ e abc"
	got := s.String(in)
	for _, leak := range []string{"topsecret", "top+secret%2F%2B", "top%20secret%2F+"} {
		if strings.Contains(got, leak) {
			t.Errorf("%q left in %q", leak, got)
		}
	}
	if !strings.Contains(got, "abc") {
		t.Errorf("a value shorter than %d bytes should not be masked: %q", minSecretLen, got)
	}
	base := errors.New("call failed: topsecret")
	err := s.Error(base)
	if strings.Contains(err.Error(), "topsecret") || !errors.Is(err, base) {
		t.Fatalf("Scrubber.Error = %v (Is base: %v)", err, errors.Is(err, base))
	}
	clean := errors.New("nothing here")
	if s.Error(clean) != clean {
		t.Fatal("a clean error should come back unchanged")
	}
	var nilScrubber *Scrubber
	if nilScrubber.String("x topsecret") != "x topsecret" {
		t.Fatal("nil scrubber changed text")
	}
}
