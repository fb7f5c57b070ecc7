package integration

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzForwardPath: whatever the proxied path, an accepted one stays under the base path,
// and no layer of decoding of any of its segments is a dot segment or holds one between
// slashes or backslashes.
func FuzzForwardPath(f *testing.F) {
	for _, s := range []string{
		"/a/b", "/", "/a/b/", "/%2e%2e/admin", "/.%2e/x", "/..%2fadmin", "/a%2F..%2F..%2Fadmin",
		"/a/%2e%2e/b", "/a/%2e/b", "/%252e%252e/admin", "/..%252fadmin", "/..%5Cadmin", "/a%5Cb",
		"/a%00b", "/a%3Fx=1", "/a%23f", "/group%2Fproject", "/100%25/x", "/http:%2F%2Fevil/x",
		"//evil/x", "/../x", "/a/../../x", "x/y", "/%25252e%25252e", "/.well-known/x",
	} {
		f.Add(s)
	}
	const base = "/v1"
	f.Fuzz(func(t *testing.T, escaped string) {
		got, err := forwardPath(base, escaped)
		if err != nil {
			return
		}
		if !strings.HasPrefix(got, base+"/") {
			t.Fatalf("forwardPath(%q) = %q: not under %s/", escaped, got, base)
		}
		for _, seg := range strings.Split(strings.TrimPrefix(got, base+"/"), "/") {
			cur := seg
			for range maxDecodeDepth + 1 {
				if strings.ContainsFunc(cur, isControl) {
					t.Fatalf("forwardPath(%q) = %q: segment %q holds a control character", escaped, got, seg)
				}
				for _, part := range strings.FieldsFunc(cur, func(r rune) bool { return r == '/' || r == '\\' }) {
					if part == "." || part == ".." {
						t.Fatalf("forwardPath(%q) = %q: segment %q decodes to a dot segment", escaped, got, seg)
					}
				}
				if cur == "." || cur == ".." {
					t.Fatalf("forwardPath(%q) = %q: dot segment %q", escaped, got, seg)
				}
				dec, err := url.PathUnescape(cur)
				if err != nil || dec == cur {
					break
				}
				cur = dec
			}
		}
	})
}

func TestForwardPath(t *testing.T) {
	for in, want := range map[string]string{
		"/a/b":         "/v1/a/b",
		"/":            "/v1/",
		"":             "/v1/",
		"/a//b/":       "/v1/a/b/",
		"/a/%2e%2e/b":  "/v1/b",
		"/a/%2E/b":     "/v1/a/b",
		"/a%2Fb":       "/v1/a%2Fb",
		"/.well-known": "/v1/.well-known",
	} {
		if got, err := forwardPath("/v1/", in); err != nil || got != want {
			t.Errorf("forwardPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"/%2e%2e", "/a/%2e%2e/%2e%2e", "/..%2f", "/%252e%252e", "/a%00", "/%zz"} {
		if got, err := forwardPath("/v1", in); err == nil {
			t.Errorf("forwardPath(%q) = %q, want an error", in, got)
		}
	}
}
