package server

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/junctionhq/junction/internal/auth"
	"github.com/junctionhq/junction/internal/telemetry"
)

// Timeouts of the http.Server that Serve runs. The API serves small JSON documents to
// operators and scrapers, so generous but finite limits cost nothing and stop slow or
// idle clients from pinning connections.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10

	// DefaultShutdownTimeout is used by Serve when it is given a non-positive timeout.
	DefaultShutdownTimeout = 15 * time.Second
)

// Tokens is what the server needs of the token service (*auth.Service): it checks every
// request's token and serves the token API, whose rules it enforces for every caller.
type Tokens interface {
	Authenticate(ctx context.Context, authorizationHeader string) (auth.Token, error)
	Create(ctx context.Context, by auth.Actor, role auth.Role, name string) (secret string, tok auth.Token, err error)
	List(ctx context.Context, by auth.Actor) ([]auth.Token, error)
	Revoke(ctx context.Context, by auth.Actor, id string) error
}

// CertificateTokens is what the server needs to authenticate a verified client
// certificate: the token its subject CN names (*auth.Service has it). Without it, a
// certificate authenticates nobody and the request needs a bearer token.
type CertificateTokens interface {
	AuthenticateName(ctx context.Context, name string) (auth.Token, error)
}

// Options configure a Server.
type Options struct {
	Tokens       Tokens                          // required: authentication and the token API
	Ready        func(ctx context.Context) error // required: /readyz; see StoreCheck
	Logger       *slog.Logger                    // required: access log and errors
	Registry     *prometheus.Registry            // served at /metrics; default telemetry.NewRegistry()
	Gateway      Gateway                         // the integration runtime; may be nil (none configured); see SetGateway
	Webhooks     Webhooks                        // the webhook service; nil leaves the webhook API out
	Flows        Flows                           // the flows; nil leaves the flow API out
	Handlers     Handlers                        // the event handlers; nil leaves the handler API out
	Jobs         Jobs                            // the scheduled jobs; nil leaves the job API out
	Workflows    Workflows                       // the workflow engine; nil leaves the workflow API out
	Events       Events                          // the event bus; nil leaves GET /events/stream out
	EventLog     EventLog                        // stored events, for a stream resumed with Last-Event-ID; nil: live only
	Reports      Reports                         // the usage reports; nil leaves GET /reports out
	Cluster      Cluster                         // this node's cluster membership; nil leaves GET /cluster out
	Plugins      Plugins                         // the plugins; nil leaves the plugin API out
	MaxBodyBytes int64                           // request body limit; default DefaultMaxBodyBytes
	Clock        func() time.Time                // default time.Now; tests pin it
	Version      string                          // the binary's version, in /openapi.json; default "dev"
	// TLS, when set, makes Serve answer HTTPS only (see tlsfiles.Server.Config). A client
	// certificate it verified authenticates a request that has no bearer token and no
	// console session: see authenticate.
	TLS *tls.Config
}

// Server is the management API. Build it with New; it is safe for concurrent use.
type Server struct {
	tokens       Tokens
	ready        func(ctx context.Context) error
	logger       *slog.Logger
	registry     *prometheus.Registry
	maxBodyBytes int64
	clock        func() time.Time
	gw           atomic.Pointer[gatewayHolder]
	webhooks     Webhooks
	flows        Flows
	handlers     Handlers
	jobs         Jobs
	workflows    Workflows
	events       Events
	eventLog     EventLog
	reports      Reports
	cluster      Cluster
	plugins      Plugins
	publicPrefix []string // path prefixes served without a token (/ingest/)
	version      string
	tls          *tls.Config // nil: plain HTTP

	// Event streams (events.go): each stream's queue and keep-alive interval, and
	// streamsEnd, closed at shutdown.
	streamQueue     int
	streamKeepalive time.Duration
	streamsEnd      chan struct{}
	endStreamsOnce  sync.Once

	mux         *http.ServeMux
	patterns    map[string]bool // every pattern registered on mux, for route labels
	routeTable  []route         // the same, in order, with who may call them: the OpenAPI document's source
	publicPaths map[string]bool // paths served without a token
	metrics     *httpMetrics
	handler     http.Handler
}

// gatewayHolder boxes the interface so it can live in an atomic.Pointer.
type gatewayHolder struct{ gw Gateway }

// New validates opts, fills in defaults and builds the routes.
func New(opts Options) (*Server, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("server: new: %w", err)
	}
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.Registry == nil {
		opts.Registry = telemetry.NewRegistry()
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	metrics, err := newHTTPMetrics(opts.Registry)
	if err != nil {
		return nil, fmt.Errorf("server: new: %w", err)
	}
	s := &Server{
		tokens:       opts.Tokens,
		ready:        opts.Ready,
		logger:       opts.Logger,
		registry:     opts.Registry,
		maxBodyBytes: opts.MaxBodyBytes,
		clock:        opts.Clock,
		mux:          http.NewServeMux(),
		patterns:     map[string]bool{},
		publicPaths:  map[string]bool{},
		metrics:      metrics,
		webhooks:     opts.Webhooks,
		flows:        opts.Flows,
		handlers:     opts.Handlers,
		jobs:         opts.Jobs,
		workflows:    opts.Workflows,
		version:      cmp.Or(opts.Version, "dev"),
		tls:          opts.TLS,
		events:       opts.Events,
		eventLog:     opts.EventLog,

		streamQueue:     streamQueueDefault,
		streamKeepalive: streamKeepaliveDefault,
		streamsEnd:      make(chan struct{}),
		reports:         opts.Reports,
		cluster:         opts.Cluster,
		plugins:         opts.Plugins,
	}
	s.SetGateway(opts.Gateway)
	s.routes()
	s.handler = s.observe(s.recoverPanics(s.authenticate(http.HandlerFunc(s.dispatch))))
	return s, nil
}

// validate reports the required options missing, or a negative body limit.
func (o *Options) validate() error {
	var missing []string
	for _, req := range []struct {
		name  string
		unset bool
	}{{"Tokens", o.Tokens == nil}, {"Ready", o.Ready == nil}, {"Logger", o.Logger == nil}} {
		if req.unset {
			missing = append(missing, req.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing required option(s): %s", strings.Join(missing, ", "))
	}
	if o.MaxBodyBytes < 0 {
		return fmt.Errorf("MaxBodyBytes must not be negative, got %d", o.MaxBodyBytes)
	}
	return nil
}

// routes registers every endpoint. The table is the API's map.
func (s *Server) routes() {
	s.handlePublic("GET /healthz", s.healthz)
	s.handlePublic("GET /readyz", s.readyz)
	s.handlePublic("GET /metrics", s.metricsHandler())

	s.gatewayRoutes()
	if s.webhooks != nil {
		s.webhookRoutes()
	}
	if s.plugins != nil {
		s.pluginRoutes()
	}
	if s.flows != nil {
		s.flowRoutes()
	}
	if s.handlers != nil {
		s.handlerRoutes()
	}
	if s.jobs != nil {
		s.jobRoutes()
	}
	if s.workflows != nil {
		s.workflowRoutes()
	}
	if s.events != nil {
		s.eventRoutes()
	}
	if s.reports != nil {
		s.reportRoutes()
	}
	if s.cluster != nil {
		s.clusterRoutes()
	}
	if s.webhooks != nil || s.flows != nil {
		// Webhook deliveries and flow messages share the dead-letter API.
		s.handle("GET /dead-letters", auth.RoleUser, s.listDeadLetters)
		s.handle("POST /dead-letters/{id}/replay", auth.RoleUser, s.replayDeadLetter)
	}

	s.consoleRoutes()
	s.handlePublic("GET /openapi.json", s.openAPI)
	s.handlePublic("GET /docs", s.apiDocsPage)

	s.handle("GET /tokens", auth.RoleAdmin, s.listTokens)
	s.handle("POST /tokens", auth.RoleAdmin, s.createToken)
	s.handle("DELETE /tokens/{id}", auth.RoleAdmin, s.revokeToken)
}

// register records a route in the route table; need is "" for a public route.
func (s *Server) register(pattern string, need auth.Role) {
	s.patterns[pattern] = true
	s.routeTable = append(s.routeTable, route{pattern: pattern, need: need})
}

// handlePublic registers a route that needs no token. Its path (the pattern without the
// method) becomes public for every method, so a wrong method gets 405, not 401.
func (s *Server) handlePublic(pattern string, h handlerFunc) {
	_, path, _ := strings.Cut(pattern, " ")
	s.publicPaths[strings.TrimSuffix(path, "{$}")] = true
	s.register(pattern, "")
	s.mux.HandleFunc(pattern, s.serve(h))
}

// handlePublicPrefix registers a route under a path prefix that needs no token: its
// requests authenticate otherwise (received webhooks carry a signature).
func (s *Server) handlePublicPrefix(pattern, prefix string, h handlerFunc) {
	s.publicPrefix = append(s.publicPrefix, prefix)
	s.register(pattern, "")
	s.mux.HandleFunc(pattern, s.serve(checkPath(pathNames(pattern), h)))
}

// isPublic reports whether a path is served without a token.
func (s *Server) isPublic(path string) bool {
	if s.publicPaths[path] {
		return true
	}
	for _, p := range s.publicPrefix {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// handle registers a route that needs a token with at least role need.
func (s *Server) handle(pattern string, need auth.Role, h handlerFunc) {
	s.register(pattern, need)
	h = checkPath(pathNames(pattern), h) // after the token checks: strangers learn nothing
	s.mux.HandleFunc(pattern, s.serve(func(w http.ResponseWriter, r *http.Request) error {
		tok, ok := tokenFrom(r.Context())
		if !ok {
			// authenticate guarantees a token on non-public paths; refusing here keeps a
			// routing mistake from becoming an open endpoint.
			return NewProblem(KindUnauthorized, "authentication required")
		}
		if !auth.Allows(tok.Role, need) {
			return NewProblem(KindForbidden, fmt.Sprintf("this endpoint needs a token with role %q; this token has role %q", need, tok.Role))
		}
		// Responses to authenticated requests may hold secrets (a new token) or
		// per-caller data; keep them out of shared caches.
		w.Header().Set("Cache-Control", "no-store")
		return h(w, r)
	}))
}

// serve adapts a handler to net/http: the error it returns becomes its problem.
func (s *Server) serve(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

// Handler returns the complete HTTP handler: middleware chain and routes.
func (s *Server) Handler() http.Handler { return s.handler }

// SetGateway replaces the integration runtime, e.g. after a configuration reload. nil
// means "no integrations". Safe to call while requests are being served.
func (s *Server) SetGateway(gw Gateway) {
	if gw == nil {
		s.gw.Store(nil)
		return
	}
	s.gw.Store(&gatewayHolder{gw: gw})
}

func (s *Server) gateway() Gateway {
	if h := s.gw.Load(); h != nil {
		return h.gw
	}
	return nil
}

// dispatch hands the request to the mux, except when the mux would answer with its own
// plain-text 404 or 405: those become problem documents (keeping the Allow header).
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if pattern != "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	// Let the mux's error handler run against a scratch writer to learn what it would
	// have said; only the status and the Allow header are kept.
	var rec headerRecorder
	h.ServeHTTP(&rec, r)
	if allow := rec.Header().Get("Allow"); allow != "" {
		w.Header().Set("Allow", allow)
	}
	switch rec.status {
	case http.StatusMethodNotAllowed:
		WriteProblem(w, r, NewProblem(KindMethodNotAllowed,
			fmt.Sprintf("method %s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, rec.Header().Get("Allow"))))
	default:
		WriteProblem(w, r, NewProblem(KindNotFound, fmt.Sprintf("no endpoint at %s", r.URL.Path)))
	}
}

// headerRecorder is a ResponseWriter that keeps headers and status and drops the body.
type headerRecorder struct {
	header http.Header
	status int
}

func (h *headerRecorder) Header() http.Header {
	if h.header == nil {
		h.header = http.Header{}
	}
	return h.header
}

func (h *headerRecorder) Write(b []byte) (int, error) {
	if h.status == 0 {
		h.status = http.StatusOK
	}
	return len(b), nil
}

func (h *headerRecorder) WriteHeader(code int) {
	if h.status == 0 {
		h.status = code
	}
}

// writeJSON sends v as application/json with the given status. It encodes before
// writing the header, so an encoding failure is returned and still becomes a 500.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
	return nil
}

// Serve answers requests on ln until ctx is cancelled, then shuts down gracefully:
// event streams end at once, other in-flight requests get up to shutdownTimeout (DefaultShutdownTimeout if not positive)
// to finish, after which remaining connections are closed. It returns nil on a clean
// stop, and an error if the listener failed or the grace period ran out. Serve closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener, shutdownTimeout time.Duration) error {
	if shutdownTimeout <= 0 {
		shutdownTimeout = DefaultShutdownTimeout
	}
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}

	serveErr := make(chan error, 1)
	if s.tls != nil {
		// ServeTLS with no file names takes the certificate from TLSConfig (its
		// GetCertificate), so a reload that swaps the certificate reaches new handshakes.
		hs.TLSConfig = s.tls
		go func() { serveErr <- hs.ServeTLS(ln, "", "") }()
	} else {
		go func() { serveErr <- hs.Serve(ln) }()
	}

	select {
	case err := <-serveErr:
		// The listener failed before anyone asked us to stop.
		_ = hs.Close()
		return fmt.Errorf("server: serve: %w", err)
	case <-ctx.Done():
	}

	s.logger.Info("http server shutting down", "grace", shutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	s.endStreams()
	shutdownErr := hs.Shutdown(shutdownCtx)
	// Close drops whatever Shutdown could not drain in time; after a full drain it is a
	// no-op. Either way no connection outlives Serve.
	closeErr := hs.Close()

	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("server: serve: %w", err)
	}
	if shutdownErr != nil {
		return fmt.Errorf("server: graceful shutdown did not finish within %s, connections closed: %w", shutdownTimeout, shutdownErr)
	}
	if closeErr != nil {
		return fmt.Errorf("server: close: %w", closeErr)
	}
	return nil
}
