package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"runtime/debug"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/junctionhq/junction/internal/auth"
	"github.com/junctionhq/junction/internal/errkind"
)

// unmatchedRoute is the route label of requests that matched no pattern, so metrics
// never carry raw paths (unbounded cardinality).
const unmatchedRoute = "unmatched"

// requestInfo is filled in as a request moves down the chain and read back by observe.
// It travels by pointer in the context because inner layers work on shallow copies of
// the request (WithContext), whose fields the outer layers cannot see.
type requestInfo struct {
	id    string      // the request's id in the logs: see requestID
	route string      // matched ServeMux pattern, or "" before/without a match
	token *auth.Token // the authenticated token, nil on public routes and 401s
	// reason is why the request failed: its problem's detail (what the client was told),
	// so the access log line of a 4xx or 5xx says why, not only the status.
	reason string
	// decodedInto is the type the handler decoded the JSON body into (decodeInto):
	// TestRequestBodiesAreDocumented compares it with the one its apiDocs entry names,
	// from which the body's documented schema is made.
	decodedInto reflect.Type
}

type infoKey struct{}

func infoFrom(ctx context.Context) *requestInfo {
	if ri, ok := ctx.Value(infoKey{}).(*requestInfo); ok {
		return ri
	}
	return &requestInfo{} // handlers run outside the chain (tests) still work
}

// tokenFrom returns the token that authenticated the request.
func tokenFrom(ctx context.Context) (auth.Token, bool) {
	ri := infoFrom(ctx)
	if ri.token == nil {
		return auth.Token{}, false
	}
	return *ri.token, true
}

// actorFrom is who makes the request, for the services: its token.
func actorFrom(ctx context.Context) auth.Actor {
	tok, _ := tokenFrom(ctx)
	return auth.ActorOf(tok)
}

// HeaderRequestID carries a request's id from a proxy in front, so that its logs and
// Junction's tell the same request by the same id.
const HeaderRequestID = "X-Request-Id"

// maxRequestIDLen bounds an id taken from HeaderRequestID.
const maxRequestIDLen = 128

// requestID is the id that ties a request's log lines together (its access log line and
// the error a 500 does not show): the proxy's, when it sent a sensible one, or a new one.
func requestID(r *http.Request) string {
	if id := r.Header.Get(HeaderRequestID); id != "" && len(id) <= maxRequestIDLen && identifierProblem(id) == "" {
		return id
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// statusWriter remembers the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (sw *statusWriter) WriteHeader(code int) {
	if sw.status == 0 && code >= 200 { // 1xx are interim; the final status comes later
		sw.status = code
	}
	sw.ResponseWriter.WriteHeader(code)
}

func (sw *statusWriter) Write(b []byte) (int, error) {
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	n, err := sw.ResponseWriter.Write(b)
	sw.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach Flush, deadlines and so on.
func (sw *statusWriter) Unwrap() http.ResponseWriter { return sw.ResponseWriter }

func (sw *statusWriter) wroteHeader() bool { return sw.status != 0 }

// httpMetrics are the request metrics observe records.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
}

func newHTTPMetrics(reg prometheus.Registerer) (*httpMetrics, error) {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "junction_http_requests_total",
			Help: "HTTP requests served by the management API, by method, route pattern and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "junction_http_request_duration_seconds",
			Help:    "Time to serve a management API request, by method and route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "junction_http_requests_in_flight",
			Help: "Management API requests being served right now.",
		}),
	}
	var err error
	m.requests, err = registerOrReuse(reg, m.requests)
	if err != nil {
		return nil, err
	}
	m.duration, err = registerOrReuse(reg, m.duration)
	if err != nil {
		return nil, err
	}
	m.inFlight, err = registerOrReuse(reg, m.inFlight)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// registerOrReuse registers c, or returns the identical collector already registered,
// so a second Server on the same registry (a config reload) shares the series instead
// of failing.
func registerOrReuse[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("register metrics: %w", err)
}

// knownMethods bounds the method label: clients can send any token as a method.
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
	http.MethodConnect: true, http.MethodTrace: true,
}

func methodLabel(m string) string {
	if knownMethods[m] {
		return m
	}
	return "OTHER"
}

// observe records metrics and writes one access-log line per request. The route label
// is the ServeMux pattern the request matches (looked up up front, so that requests
// refused before routing, such as 401s, are still attributed to their route).
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.clock()
		s.metrics.inFlight.Inc()
		defer s.metrics.inFlight.Dec()

		ri := &requestInfo{id: requestID(r), route: s.routeOf(r)}
		ctx, span := s.startSpan(r, ri.route)
		r = r.WithContext(context.WithValue(ctx, infoKey{}, ri))
		sw := &statusWriter{ResponseWriter: w}

		defer func() {
			// Runs even if a panic escapes (http.ErrAbortHandler), so the request is
			// still counted and logged.
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			elapsed := s.clock().Sub(start)
			route := ri.route
			if route == "" {
				route = unmatchedRoute
			}
			method := methodLabel(r.Method)
			s.metrics.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
			s.metrics.duration.WithLabelValues(method, route).Observe(elapsed.Seconds())
			endSpan(span, method, route, status)

			// Headers are deliberately not logged: Authorization carries the secret.
			attrs := []slog.Attr{
				slog.String("request_id", ri.id),
				slog.String("method", r.Method),
				slog.String("route", route),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Duration("duration", elapsed),
				slog.Int64("bytes", sw.bytes),
				slog.String("remote", r.RemoteAddr),
			}
			if ri.token != nil {
				attrs = append(attrs, slog.String("token_id", ri.token.ID))
			}
			if ri.reason != "" {
				attrs = append(attrs, slog.String("reason", ri.reason))
			}
			s.logger.LogAttrs(r.Context(), s.accessLogLevel(r, status), "http request", attrs...)
		}()
		next.ServeHTTP(sw, r)
	})
}

// accessLogLevel keeps probes and scrapes, which arrive every few seconds, out of the
// info log while they succeed, and raises server errors so they stand out.
func (s *Server) accessLogLevel(r *http.Request, status int) slog.Level {
	switch {
	case status >= 500:
		return slog.LevelError
	case status < 400 && s.publicPaths[r.URL.Path]:
		return slog.LevelDebug
	default:
		return slog.LevelInfo
	}
}

// routeOf returns the registered pattern r matches, or "". Redirect answers from the
// mux report the target path as their pattern, so only patterns we registered count.
func (s *Server) routeOf(r *http.Request) string {
	_, pattern := s.mux.Handler(r)
	if s.patterns[pattern] {
		return pattern
	}
	return ""
}

// recoverPanics turns a handler panic into a logged 500 problem. http.ErrAbortHandler
// is re-raised: it is net/http's sanctioned way to abort a response.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler { // compared by identity, as net/http itself does
				panic(v)
			}
			s.logger.LogAttrs(r.Context(), slog.LevelError, "panic serving request",
				slog.String("request_id", infoFrom(r.Context()).id),
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Any("panic", v),
				slog.String("stack", string(debug.Stack())),
			)
			if sw, ok := w.(*statusWriter); ok && sw.wroteHeader() {
				// Too late for a problem document: the status is on the wire. Abort
				// so the client sees a broken response rather than a truncated "success".
				panic(http.ErrAbortHandler)
			}
			WriteProblem(w, r, NewProblem(KindInternal, detailInternal))
		}()
		next.ServeHTTP(w, r)
	})
}

// authenticate requires a valid bearer token on every path that is not public, or the
// console's session cookie, or, over TLS with --tls-client-ca, a verified client
// certificate; a request that has several uses the bearer token first, then the session. It runs
// before routing so that unauthenticated clients learn nothing about which paths exist.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.isPublic(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		values := r.Header.Values("Authorization")
		var (
			tok auth.Token
			err error
		)
		session, fromCookie := sessionToken(r)
		switch {
		case len(values) > 1:
			err = fmt.Errorf("%w: more than one Authorization header", auth.ErrUnauthenticated)
		case len(values) == 0 && fromCookie:
			// The console's session: the same token, kept in an HttpOnly cookie. A browser
			// sends cookies with requests other sites make it send, so changes also need
			// the page's CSRF token (see checkCSRF).
			tok, err = s.tokens.Authenticate(r.Context(), "Bearer "+session)
			if err == nil {
				err = checkCSRF(r, session)
			}
		case len(values) == 0 && hasClientCertificate(r):
			tok, err = s.certificateToken(r)
		default:
			tok, err = s.tokens.Authenticate(r.Context(), r.Header.Get("Authorization"))
		}
		if err != nil {
			if errors.Is(err, auth.ErrUnauthenticated) && len(values) > 0 {
				// RFC 6750 §3: a presented but unusable token is "invalid_token".
				w.Header().Set("WWW-Authenticate", `Bearer realm="junction", error="invalid_token"`)
			}
			// A store that cannot answer is not 401 but 503: the token may well be
			// valid, and a client must not drop it.
			s.writeError(w, r, describe(err, errkind.ErrUnavailable, "the token could not be checked because the store is unavailable; retry later"))
			return
		}
		infoFrom(r.Context()).token = &tok
		next.ServeHTTP(w, r)
	})
}

// hasClientCertificate reports whether the TLS handshake verified a client certificate
// against the client CA (tls.VerifyClientCertIfGiven: one that does not chain to it
// never gets this far, the handshake fails).
func hasClientCertificate(r *http.Request) bool {
	return r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0
}

// certificateToken is the token a verified client certificate stands for: the one active
// API token named by its subject CN (see auth.TokenNamed and docs/decisions.md). The
// certificate thus has the token's role, and revoking the token ends the certificate's
// access too, without a revocation list.
func (s *Server) certificateToken(r *http.Request) (auth.Token, error) {
	ct, ok := s.tokens.(CertificateTokens)
	if !ok {
		return auth.Token{}, fmt.Errorf("%w: client certificates are not accepted here; send Authorization: Bearer", auth.ErrUnauthenticated)
	}
	leaf := r.TLS.VerifiedChains[0][0]
	tok, err := ct.AuthenticateName(r.Context(), leaf.Subject.CommonName)
	if err != nil {
		return tok, err
	}
	return tok, checkCrossSite(r)
}

// errCrossSite is a change asked for with a client certificate by a page of another site.
var errCrossSite = NewProblem(KindForbidden, "this request changes something, is authenticated by a client certificate and was sent by a page of another site; client certificates are for machine clients")

// checkCrossSite refuses changes that a browser holding a client certificate was made to
// send by another site: a browser presents its certificate to any page's requests, as it
// sends cookies, so the certificate alone must not let another site change anything.
// Machine clients send neither header; browsers send at least one on such requests.
func checkCrossSite(r *http.Request) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return errCrossSite
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		if u, err := url.Parse(origin); err != nil || u.Host != r.Host {
			return errCrossSite
		}
	}
	return nil
}
