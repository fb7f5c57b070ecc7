package integration

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// ForwardMethods are the methods the proxy forwards. TRACE would echo the request with
// the integration's credentials back to the caller; CONNECT would open a tunnel; other
// methods have no meaning for the APIs integrations describe.
var ForwardMethods = []string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions,
}

// maxDecodeDepth bounds how many layers of percent-encoding forwardPath looks through
// when it checks a segment for hidden dot segments (%252e%252e is two layers).
const maxDecodeDepth = 4

// forwardPath joins a proxied request's escaped path onto the base URL's path, cleaned:
// empty segments collapse, "." segments go, ".." removes the segment before it — and
// must not climb above the base path. The check is made on the escaped path, segment by
// segment, so an encoded '/' ("group%2Fproject", as GitLab names projects) stays data,
// sent encoded, and so do encoded '?' and '#'. Whatever an upstream could decode into a
// dot segment is refused rather than guessed at: a segment that decodes (once, or after
// further layers of encoding) into "." or ".." around a '/' or '\', or into a control
// character. The result is the escaped path to send.
func forwardPath(basePath, escaped string) (string, error) {
	basePath = strings.TrimSuffix(basePath, "/")
	if strings.HasPrefix(escaped, "/") && !strings.ContainsAny(escaped, "%\\") && !strings.ContainsFunc(escaped, isControl) &&
		!strings.Contains(escaped, "//") && !strings.Contains(escaped, "/.") {
		return basePath + escaped, nil // nothing encoded, no empty or dot segment: clean already
	}
	var segs []string
	parts := strings.Split(escaped, "/")
	for i, seg := range parts {
		if seg == "" {
			if i == len(parts)-1 && len(segs) > 0 {
				segs = append(segs, "") // a trailing slash is kept: /users/ is not /users
			}
			continue
		}
		dec, err := url.PathUnescape(seg)
		if err != nil {
			return "", fmt.Errorf("the path segment %q is not validly percent-encoded", seg)
		}
		switch {
		case dec == ".":
			continue
		case dec == "..":
			if len(segs) == 0 {
				return "", errors.New("the path climbs above the integration's base URL")
			}
			segs = segs[:len(segs)-1]
			continue
		}
		if err := checkSegment(seg); err != nil {
			return "", err
		}
		segs = append(segs, seg)
	}
	return basePath + "/" + strings.Join(segs, "/"), nil
}

// checkSegment refuses a segment that hides a dot segment or a control character under
// one or more layers of percent-encoding.
func checkSegment(seg string) error {
	cur := seg
	for depth := 0; depth < maxDecodeDepth; depth++ {
		dec, err := url.PathUnescape(cur)
		if err != nil {
			return nil // not an encoding at this depth: what the upstream sees is literal
		}
		if strings.ContainsFunc(dec, isControl) {
			return fmt.Errorf("the path segment %q holds a control character", seg)
		}
		if slices.ContainsFunc(strings.FieldsFunc(dec, func(r rune) bool { return r == '/' || r == '\\' }),
			func(p string) bool { return p == "." || p == ".." }) {
			return fmt.Errorf("the path segment %q decodes to a . or .. segment", seg)
		}
		if dec == cur {
			return nil
		}
		cur = dec
	}
	return fmt.Errorf("the path segment %q is encoded more than %d times", seg, maxDecodeDepth)
}

// forwardURL is the URL a proxied request goes to: the base URL, the cleaned path and
// the caller's query.
func (c *client) forwardURL(fr ForwardRequest) (*url.URL, error) {
	if c.baseErr != nil {
		return nil, c.baseErr
	}
	if strings.ContainsAny(fr.RawQuery, "#\x00\r\n") {
		return nil, errors.New("the query holds a raw '#' or control character; encode it")
	}
	escaped, err := forwardPath(c.base.EscapedPath(), fr.Path)
	if err != nil {
		return nil, err
	}
	path, err := url.PathUnescape(escaped)
	if err != nil {
		return nil, err
	}
	u := *c.base
	u.Path, u.RawPath, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = path, escaped, fr.RawQuery, false, "", ""
	return &u, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
