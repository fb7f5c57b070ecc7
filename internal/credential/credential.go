package credential

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/config"
)

// Applier adds credentials to one outbound request. body is the exact request body bytes
// (nil for none), needed by signing schemes. Implementations are safe for concurrent use.
type Applier interface {
	Apply(ctx context.Context, req *http.Request, body []byte) error
	// Rejected tells the applier the upstream answered 401 to a request it prepared, so a
	// cached credential can be refreshed. It reports whether a retry with fresh
	// credentials makes sense (true only for OAuth2, and only once per stale token).
	Rejected(ctx context.Context, req *http.Request) bool
	// Secrets lists the secret values the applier puts on requests, now: what must never
	// appear in a reply, log line or stored error (see redact.Scrubber). Identifiers that
	// are not secret (a Basic user name, an AWS access key id) are left out; an OAuth2
	// applier includes the access token it currently holds.
	Secrets() []string
}

// Options are the dependencies of the appliers that need any.
type Options struct {
	HTTPClient *http.Client // for OAuth2 token requests; default a client with a 10s timeout
	Clock      clock.Clock  // default clock.Real{}
}

// defaultTokenTimeout bounds a token request made with the default client: a token
// endpoint that hangs must not hold every call of the integration forever.
const defaultTokenTimeout = 10 * time.Second

// New resolves every secret of a (via lookup, i.e. env(NAME)/"$NAME"/file(PATH)) now, at
// start-up, and returns an Applier. Resolving early means a missing variable makes the
// integration misconfigured at start instead of failing (or, worse, sending an empty
// secret) on the first call. A missing or empty secret is an error naming the setting and
// the variable, wrapping the *config.MissingError. A nil lookup means os.LookupEnv.
// a == nil returns an Applier that does nothing.
func New(a *config.Auth, lookup config.LookupEnv, opts Options) (Applier, error) {
	if a == nil {
		return none{}, nil
	}
	if lookup == nil {
		lookup = os.LookupEnv
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: defaultTokenTimeout}
	}
	r := resolver{lookup: lookup}
	var (
		ap  Applier
		err error
	)
	switch a.Kind {
	case config.AuthBearer:
		ap = newBearer(&r, a)
	case config.AuthAPIKey:
		ap, err = newAPIKey(&r, a)
	case config.AuthBasic:
		ap, err = newBasic(&r, a)
	case config.AuthOAuth2:
		ap, err = newOAuth2(&r, a, opts)
	case config.AuthAWSSigV4:
		ap, err = newSigV4(&r, a, opts)
	case config.AuthHMAC:
		ap, err = newHMAC(&r, a, opts)
	default:
		return nil, fmt.Errorf("credential: unknown auth kind %q", a.Kind)
	}
	if err == nil {
		err = r.err
	}
	if err != nil {
		return nil, fmt.Errorf("credential: %w", err)
	}
	return ap, nil
}

// resolver resolves settings one after the other and keeps the first error, so the
// constructors read as a list of settings rather than a ladder of error checks.
type resolver struct {
	lookup config.LookupEnv
	err    error
}

// required resolves a setting that must be present and non-empty. The error names the
// setting the way config.EnvProblem does ("auth token") and wraps Resolve's
// *config.MissingError, which names the variable or file but never holds its content.
func (r *resolver) required(setting string, v config.Value) string {
	if r.err != nil {
		return ""
	}
	if v.IsZero() {
		r.err = fmt.Errorf("auth %s is not configured", setting)
		return ""
	}
	s, err := v.Resolve(r.lookup)
	if err != nil {
		r.err = fmt.Errorf("auth %s: %w", setting, err)
		return ""
	}
	if s == "" {
		// A literal "" or a Value whose parts are all empty: still never send it.
		r.err = fmt.Errorf("auth %s is empty", setting)
		return ""
	}
	if i := strings.IndexFunc(s, isControl); i >= 0 {
		// Checked here rather than left to net/http so the problem shows at start-up,
		// named, and without echoing the value. A trailing newline of a file is already
		// trimmed by Resolve.
		r.err = fmt.Errorf("auth %s contains a control character (at byte %d); secrets go into headers and must be one line", setting, i)
		return ""
	}
	return s
}

// optional resolves a setting that may be absent; when given, it must resolve.
func (r *resolver) optional(setting string, v config.Value) string {
	if v.IsZero() {
		return ""
	}
	return r.required(setting, v)
}

func isControl(c rune) bool { return (c < 0x20 && c != '\t') || c == 0x7f }

// none is the Applier of an integration without auth.
type none struct{}

func (none) Apply(context.Context, *http.Request, []byte) error { return nil }
func (none) Rejected(context.Context, *http.Request) bool       { return false }
func (none) Secrets() []string                                  { return nil }
func (none) String() string                                     { return "none" }

// header sets one fixed header: bearer tokens, API keys in a header.
type header struct {
	kind   config.AuthKind
	name   string
	value  string // the whole header value
	secret string // the secret inside value
}

func newBearer(r *resolver, a *config.Auth) *header {
	token := r.required("token", a.Token)
	return &header{kind: config.AuthBearer, name: "Authorization", value: "Bearer " + token, secret: token}
}

func (h *header) Apply(_ context.Context, req *http.Request, _ []byte) error {
	req.Header.Set(h.name, h.value)
	return nil
}

// Rejected is false: a static secret is the same on a retry, so retrying cannot help.
func (h *header) Rejected(context.Context, *http.Request) bool { return false }

func (h *header) Secrets() []string { return []string{h.secret} }

// String prints the kind only: the struct holds the secret and must not be printed.
func (h *header) String() string { return string(h.kind) }

// GoString keeps %#v from printing the fields.
func (h *header) GoString() string { return h.String() }

func newAPIKey(r *resolver, a *config.Auth) (Applier, error) {
	key := r.required("key", a.Key)
	if a.KeyName == "" {
		return nil, errors.New("auth api_key: missing the header or query parameter name")
	}
	in := a.KeyIn
	if in == "" {
		in = keyPlacement(a.KeyName)
	}
	switch in {
	case config.KeyInHeader:
		if !httpguts.ValidHeaderFieldName(a.KeyName) {
			return nil, fmt.Errorf("auth api_key: %q is not a valid header name", a.KeyName)
		}
		return &header{kind: config.AuthAPIKey, name: a.KeyName, value: key, secret: key}, nil
	case config.KeyInQuery:
		return &queryParam{name: a.KeyName, value: key}, nil
	}
	return nil, fmt.Errorf("auth api_key: key goes in %q, expected %q or %q", in, config.KeyInHeader, config.KeyInQuery)
}

// keyPlacement mirrors the configuration language's rule for api_key(KEY, "name") without
// a third argument: a name that looks like a header name is a header. The decoder always
// fills KeyIn; this only serves an Auth built by hand.
func keyPlacement(name string) string {
	if strings.ContainsAny(name, "-ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
		return config.KeyInHeader
	}
	return config.KeyInQuery
}

// queryParam adds an API key as a query parameter.
type queryParam struct {
	name  string
	value string
}

// Apply appends name=value to the raw query and removes an earlier value of the same
// parameter (a request prepared twice must not carry the key twice). The other
// parameters are kept byte for byte: re-encoding them through url.Values would reorder
// them and change their escaping, which some APIs (and signatures) are sensitive to.
func (q *queryParam) Apply(_ context.Context, req *http.Request, _ []byte) error {
	var kept []string
	if req.URL.RawQuery != "" {
		for _, pair := range strings.Split(req.URL.RawQuery, "&") {
			k, _, _ := strings.Cut(pair, "=")
			if uk, err := url.QueryUnescape(k); err == nil && uk == q.name {
				continue
			}
			kept = append(kept, pair)
		}
	}
	kept = append(kept, url.QueryEscape(q.name)+"="+url.QueryEscape(q.value))
	req.URL.RawQuery = strings.Join(kept, "&")
	return nil
}

func (q *queryParam) Rejected(context.Context, *http.Request) bool { return false }
func (q *queryParam) Secrets() []string                            { return []string{q.value} }
func (q *queryParam) String() string                               { return string(config.AuthAPIKey) }
func (q *queryParam) GoString() string                             { return q.String() }

// basic is HTTP Basic authentication (RFC 7617).
type basic struct {
	username, password string
}

func newBasic(r *resolver, a *config.Auth) (Applier, error) {
	u := r.required("username", a.Username)
	p := r.required("password", a.Password)
	if strings.Contains(u, ":") {
		// RFC 7617: the user-id cannot contain a colon; the server would split there.
		return nil, errors.New("auth username contains ':', which Basic authentication cannot carry")
	}
	return &basic{username: u, password: p}, nil
}

func (b *basic) Apply(_ context.Context, req *http.Request, _ []byte) error {
	req.SetBasicAuth(b.username, b.password)
	return nil
}

func (b *basic) Rejected(context.Context, *http.Request) bool { return false }

// Secrets are the password and the header's base64 of user:password, which holds it.
func (b *basic) Secrets() []string {
	userPass := b.username + ":" + b.password
	return []string{b.password, userPass, base64.StdEncoding.EncodeToString([]byte(userPass))}
}

func (b *basic) String() string   { return string(config.AuthBasic) }
func (b *basic) GoString() string { return b.String() }
