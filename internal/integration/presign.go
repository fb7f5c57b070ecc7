package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/credential"
)

// presignMethods are the requests a presigned URL may be made for.
var presignMethods = []string{http.MethodGet, http.MethodPut, http.MethodHead, http.MethodDelete}

// presign reads the parameters of a presigned-URL operation into x: the method the URL
// is for (x.method), its lifetime (x.presignFor) and, for an upload, the Content-Type
// the uploader must send (then signed). The URL itself was built from the path and
// query as for any operation. Only what the URL's user will send is signed: the
// integration's static headers stay out.
func (b *builder) presign(x *exchange) {
	x.method, x.presignFor, x.header = http.MethodGet, config.PresignExpiresDefault, http.Header{}
	if v, ok := b.take(config.PresignMethodParam); ok {
		s, _ := v.(string)
		if m := strings.ToUpper(s); slices.Contains(presignMethods, m) {
			x.method = m
		} else {
			b.problem(config.PresignMethodParam, "expected one of %s, found %s", strings.Join(presignMethods, ", "), describeValue(v))
		}
	}
	if v, ok := b.take(config.PresignExpiresParam); ok {
		d, err := presignLifetime(v)
		if err != nil {
			b.problem(config.PresignExpiresParam, "%v", err)
		} else {
			x.presignFor = d
		}
	}
	if v, ok := b.take(config.PresignContentTypeParam); ok {
		s, isString := v.(string)
		switch {
		case !isString || s == "" || strings.ContainsAny(s, "\r\n"):
			b.problem(config.PresignContentTypeParam, "expected a media type such as application/pdf, found %s", describeValue(v))
		case x.method != http.MethodPut:
			b.problem(config.PresignContentTypeParam, "only a PUT (an upload) sends a Content-Type; the URL is for %s", x.method)
		default:
			x.header.Set("Content-Type", s)
		}
	}
}

// presignLifetime reads expires_in: a duration ("15m", "2h", "7d") or whole seconds.
func presignLifetime(v any) (time.Duration, error) {
	var d time.Duration
	s, isString := scalarString(v)
	switch {
	case !isString:
		return 0, fmt.Errorf("expected a duration such as 15m or a number of seconds, found %s", describeValue(v))
	case isInteger(v) || isDigits(s):
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n > int64(config.PresignExpiresMax/time.Second) {
			return 0, fmt.Errorf("at most %d seconds (7 days), found %s", int64(config.PresignExpiresMax/time.Second), s)
		}
		d = time.Duration(n) * time.Second
	default:
		days, isDays := strings.CutSuffix(s, "d")
		var err error
		if n, nerr := strconv.Atoi(days); isDays && nerr == nil {
			d = time.Duration(n) * 24 * time.Hour
		} else if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("expected a duration such as 15m or a number of seconds, found %q", s)
		}
	}
	switch {
	case d < time.Second:
		return 0, fmt.Errorf("at least 1s, found %s", s)
	case d > config.PresignExpiresMax:
		return 0, fmt.Errorf("at most 7d (AWS refuses longer), found %s", s)
	case d%time.Second != 0:
		return 0, fmt.Errorf("whole seconds, found %s", s)
	}
	return d, nil
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// presignStage computes a presigned URL: the one stage of a `method: internal`
// operation besides observe. Nothing is sent; the answer is Junction's own JSON,
// {url, method, expires_at} and, when the URL's user must send signed headers,
// headers.
type presignStage struct {
	c  *client
	op *operation
}

// presignAnswer is the body of a presigned-URL operation's answer.
type presignAnswer struct {
	URL       string            `json:"url"`
	Method    string            `json:"method"`
	ExpiresAt string            `json:"expires_at"`
	Headers   map[string]string `json:"headers,omitempty"`
}

func (s *presignStage) wrap(handler) handler {
	return func(ctx context.Context, x *exchange) (*Result, error) {
		p, ok := s.c.st.cred.(credential.Presigner)
		if !ok { // config computes presigned URLs only with aws_signature_v4 credentials
			return nil, &Error{Kind: KindMisconfigured, Integration: s.c.name, Operation: s.op.name, Detail: "the integration's credentials cannot presign URLs"}
		}
		at := s.c.env.clock.Now().UTC().Truncate(time.Second)
		u, err := p.Presign(ctx, x.method, x.url, x.header, x.presignFor, at)
		if err != nil {
			return nil, &Error{Kind: KindMisconfigured, Integration: s.c.name, Operation: s.op.name, Detail: "cannot presign the URL", Err: err}
		}
		a := presignAnswer{URL: u, Method: x.method, ExpiresAt: at.Add(x.presignFor).Format(time.RFC3339)}
		if ct := x.header.Get("Content-Type"); ct != "" {
			a.Headers = map[string]string{"Content-Type": ct}
		}
		body, _ := json.Marshal(a)
		return &Result{Status: http.StatusOK, Header: http.Header{"Content-Type": headerJSON}, Body: body}, nil
	}
}
