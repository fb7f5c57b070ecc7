package config

import "time"

// Config is the typed model of one or more configuration files. Both dialects of the
// language, YAML and JSON all decode into it; nothing downstream sees syntax.
type Config struct {
	Integrations []*Integration
	Events       []*EventType
	Webhooks     []*Webhook
	Handlers     []*Handler
	Sources      []*Source
	Connectors   []*Connector
	Flows        []*Flow
	Jobs         []*Job
	Workflows    []*Workflow
	Plugins      []*Plugin
	// WebhookDelivery holds the delivery settings of every webhook endpoint, from the one
	// `integration NAME { type: webhook … }` block; nil without one.
	WebhookDelivery *WebhookDelivery
	// Ignored lists, one per block, what was accepted but is not run: the blocks of
	// CodeAI's code generation (entity, endpoint, workflows of its application's
	// activities, …), unknown blocks, and entity triggers of events. validate and serve
	// report them once per kind (notrun.go).
	Ignored []Ignored
}

// Connector returns the connector with the given name, or nil.
func (c *Config) Connector(name string) *Connector {
	for _, x := range c.Connectors {
		if x.Name == name {
			return x
		}
	}
	return nil
}

// Flow returns the flow with the given name, or nil.
func (c *Config) Flow(name string) *Flow {
	for _, f := range c.Flows {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// Integration returns the integration with the given name, or nil.
func (c *Config) Integration(name string) *Integration {
	for _, in := range c.Integrations {
		if in.Name == name {
			return in
		}
	}
	return nil
}

// Summary counts what a configuration holds, for `junction validate`.
type Summary struct {
	Integrations, Operations, Events, Webhooks, Handlers, Sources, Connectors, Flows, Jobs, Workflows, Plugins, Ignored int
	// WebhookDelivery names the block that holds the webhook delivery settings, if any.
	WebhookDelivery string
}

// Summary counts the configuration's parts. A `type: webhook` block counts as an
// integration only when it declares operations: the ones that can be called. The
// handlers and jobs that workflows' triggers make are counted with their workflows, not
// as handlers and jobs.
func (c *Config) Summary() Summary {
	s := Summary{
		Sources:      len(c.Sources),
		Connectors:   len(c.Connectors),
		Flows:        len(c.Flows),
		Workflows:    len(c.Workflows),
		Plugins:      len(c.Plugins),
		Integrations: len(c.Integrations),
		Events:       len(c.Events),
		Webhooks:     len(c.Webhooks),
		Ignored:      len(c.Ignored),
	}
	for _, in := range c.Integrations {
		s.Operations += len(in.Operations)
	}
	for _, h := range c.Handlers {
		if !h.Trigger {
			s.Handlers++
		}
	}
	for _, j := range c.Jobs {
		if !j.Trigger {
			s.Jobs++
		}
	}
	if c.WebhookDelivery != nil {
		s.WebhookDelivery = c.WebhookDelivery.Name
	}
	return s
}

// Ignored is a construct Junction accepted without running it.
type Ignored struct {
	Pos    Pos
	Kind   string // config, entity, endpoint, workflow activities, job task, trigger, …
	Name   string // the block's label(s), if any
	Reason string
	// Annotations are the block's @annotations (@deprecated, @auth("admin")), which go
	// with the block.
	Annotations []string
}

// IntegrationType is the kind of system an integration talks to.
type IntegrationType string

// The integration types.
const (
	TypeREST    IntegrationType = "rest"
	TypeGraphQL IntegrationType = "graphql"
	TypeWebhook IntegrationType = "webhook"
	// TypeWebSocket keeps a WebSocket open: its messages feed flows (a websocket
	// connector), and its operations send a message and await the matching reply.
	TypeWebSocket IntegrationType = "websocket"
)

// Integration is one `integration NAME { … }` block: how to reach an outside system and
// the policies that apply to every call to it.
type Integration struct {
	Pos         Pos
	Name        string
	Description string
	// Catalog names the catalog entry the block is laid over (`from catalog "stripe"`),
	// "" for none; the model holds the combined settings.
	Catalog string
	Type    IntegrationType
	BaseURL *Value // nil when not given
	Auth    *Auth
	Headers []Header
	Timeout time.Duration // per attempt; 0 means the runtime default

	Retry           *Retry
	CircuitBreaker  *CircuitBreaker
	RateLimit       *RateLimit
	DefaultCacheTTL time.Duration
	Fallback        *Fallback
	Idempotency     *Idempotency
	Batching        *Batching
	// Signature signs the body of each call (`<header>: sha256=<hex HMAC>`), keyed with
	// the parameter secret_from names; a `type: webhook` block's also signs deliveries.
	Signature *Signature
	// SLO and Cost feed the usage reports (GET /reports); an operation's own replace them.
	SLO  *SLO
	Cost *Cost
	// TLS is how HTTPS connections to base_url are made (a private CA, a client
	// certificate); a `type: webhook` block's applies to deliveries. nil: the defaults.
	TLS *TLS
	// WebSocket holds what only a `type: websocket` integration has (subscribe,
	// heartbeat, reconnect); nil for the other types.
	WebSocket *WebSocket

	Operations []*Operation
}

// TLS is `tls { ca, cert, key, server_name }`. The files are checked (readable, PEM,
// the key belongs to the certificate) when the configuration is loaded, and read again
// by each runtime built from it, so a reload picks up rotated files.
type TLS struct {
	Pos        Pos
	CA         string // PEM CA certificates the server's must chain to, instead of the system's
	Cert, Key  string // client certificate and key for mutual TLS; both or neither
	ServerName string // the name the server's certificate is checked against; "" means the URL's host
}

// Operation returns the named operation, or nil.
func (in *Integration) Operation(name string) *Operation {
	for _, op := range in.Operations {
		if op.Name == name {
			return op
		}
	}
	return nil
}

// Header is a request header; its value may hold {param} templates and env references.
type Header struct {
	Pos   Pos
	Name  string
	Value Value
}

// AuthKind names an authentication scheme.
type AuthKind string

// The authentication schemes.
const (
	AuthBearer   AuthKind = "bearer"
	AuthAPIKey   AuthKind = "api_key"
	AuthBasic    AuthKind = "basic"
	AuthOAuth2   AuthKind = "oauth2"
	AuthAWSSigV4 AuthKind = "aws_signature_v4"
	AuthHMAC     AuthKind = "hmac"
)

// Where an API key goes.
const (
	KeyInHeader = "header"
	KeyInQuery  = "query"
)

// Auth is how requests to an integration are authenticated. Only the fields of Kind are set.
type Auth struct {
	Pos  Pos
	Kind AuthKind

	Token Value // bearer

	Key     Value  // api_key: the secret
	KeyName string // api_key: header or query parameter name
	KeyIn   string // api_key: KeyInHeader or KeyInQuery

	Username, Password Value // basic

	TokenURL     Value    // oauth2 client credentials
	ClientID     Value    // oauth2
	ClientSecret Value    // oauth2
	Scopes       []string // oauth2

	AccessKey    Value  // aws_signature_v4
	SecretKey    Value  // aws_signature_v4
	SessionToken Value  // aws_signature_v4, optional
	Region       Value  // aws_signature_v4
	Service      string // aws_signature_v4, e.g. "s3"

	Secret    Value  // hmac
	Header    string // hmac: header carrying the signature
	Algorithm string // hmac: sha256 (default) or sha512
}

// BackoffKind is how the delay between retries grows: the back-off. The word `backoff`
// always names it (`with exponential_backoff`, `backoff: constant`); a number written as
// the back-off (`backoff 2.0`) is an exponential one growing by that factor.
type BackoffKind string

// The backoff kinds.
const (
	BackoffExponential BackoffKind = "exponential"
	BackoffConstant    BackoffKind = "constant"
	// BackoffLinear grows the delay by the first delay each retry: initial, 2×, 3×, …
	BackoffLinear BackoffKind = "linear"
)

// Retry is one retry as written, the same wherever it is written: an integration's
// `retry` and `retry_delays`, a flow's `on_error: retry …`, the `type: webhook` block
// and the colon-less webhook's `retry 5 initial_interval "1s" backoff 2.0`. A zero field
// was not written: the runtime's defaults of that use fill it (package policy/retry).
type Retry struct {
	Pos        Pos
	Attempts   int // retries after the first attempt: `3 times` = 3
	Backoff    BackoffKind
	Initial    time.Duration   // first delay
	Multiplier float64         // growth per retry (exponential)
	Max        time.Duration   // cap on one delay
	Delays     []time.Duration // explicit schedule (retry_delays); wins over Backoff
}

// SLO is a service-level objective: the share of calls in a minute that must succeed
// for that minute to count as available in the reports.
type SLO struct {
	Pos         Pos
	SuccessRate float64 // a fraction in (0, 1]: 99.5% is 0.995
}

// Cost is the price of one request that reaches the upstream (each retry is one; cache
// hits and calls Junction refuses cost nothing), summed in the reports.
type Cost struct {
	Pos     Pos
	PerCall float64
}

// CircuitBreaker opens after too many failures and lets probes through after ResetAfter.
type CircuitBreaker struct {
	Pos            Pos
	Failures       int           // how many failures open it
	Window         time.Duration // counted over this sliding window; 0 with Consecutive
	Consecutive    bool          // count consecutive failures instead of a window
	ResetAfter     time.Duration // how long it stays open before half-open
	HalfOpenProbes int           // calls let through while half-open; 0 means 1
	MaxConcurrent  int           // bulkhead: concurrent calls allowed; 0 means no limit
	NotifyOnOpen   bool
}

// RateLimit allows Requests calls in any Window-long span. A call over the limit waits
// for a slot at most MaxWait; beyond that it is refused at once.
type RateLimit struct {
	Pos      Pos
	Requests int
	Window   time.Duration
	MaxWait  time.Duration // 0 means the attempt's timeout
	Header   string        // response header announcing the remaining quota
}

// FallbackKind says what a failed call returns instead of an error.
type FallbackKind string

// The fallback kinds.
const (
	FallbackCache   FallbackKind = "cache"
	FallbackDefault FallbackKind = "default"
)

// Fallback is what to answer when the circuit is open or every attempt failed.
type Fallback struct {
	Pos     Pos
	Kind    FallbackKind
	Default any // FallbackDefault: a JSON value
}

// Idempotency sends an idempotency key with each logical call.
type Idempotency struct {
	Pos      Pos
	Header   string
	Generate bool
}

// Batching coalesces concurrent single calls into calls of a batch operation.
type Batching struct {
	Pos          Pos
	Enabled      bool
	MaxBatchSize int
	MaxDelay     time.Duration
	Operation    string // the batch operation's name; empty means the runtime's choice
}

// Signature is how outbound webhook requests are signed.
type Signature struct {
	Pos        Pos
	Algorithm  string // sha256
	Header     string // e.g. X-Webhook-Signature
	SecretFrom string // e.g. endpoint.secret
}

// WebhookDelivery is how Junction delivers webhooks to every endpoint: the settings of
// the `integration NAME { type: webhook … }` block (seed 003's WebhookDeliveryService).
// The block is written as an integration, but it is not one: it is not called, and it
// is listed among the integrations only when it also declares operations, which can be.
type WebhookDelivery struct {
	Pos                    Pos
	Name                   string        // the block's name, for messages
	Timeout                time.Duration // per attempt; 0 means the default
	Retry                  *Retry        // nil means the default schedule
	CircuitBreaker         *CircuitBreaker
	DeadLetter             *DeadLetter
	Signature              *Signature    // adds the seed's signature header beside Standard Webhooks'
	AllowedNetworks        []string      // CIDRs deliveries may reach although private (SSRF guard)
	SecretOverlap          time.Duration // how long a rotated-out secret keeps signing
	Workers                int           // delivery workers
	PerEndpointConcurrency int           // deliveries in flight per endpoint
	SuccessCodes           []int         // the deliver operation's success_codes; nil means any 2xx
	TLS                    *TLS          // how deliveries' HTTPS connections are made; nil: the defaults
}

// DeadLetter keeps deliveries that failed for good.
type DeadLetter struct {
	Pos       Pos
	Enabled   bool
	Retention time.Duration
}

// Operation is one named call of an integration.
type Operation struct {
	Pos         Pos
	Name        string
	Description string
	Method      string   // GET, POST, …; "INTERNAL" for operations Junction computes itself
	Path        string   // with {param} templates
	PathParams  []string // names of the {param}s in Path, in order
	Query       []*Field
	Body        []*Field
	Headers     []Header
	BodyType    string // "json" (default), "form" (application/x-www-form-urlencoded), "xml" (the one body field as an XML document), "binary", "avro" or "protobuf"
	// Format is the `format: { … }` declaration of a body_type: avro or protobuf
	// operation, as written: the connectors' format option, with its keys (schema,
	// schema_file; descriptor_set, message) and type optional. It is kept unparsed:
	// the codec reads files and parses schemas, which package integration does (and
	// `junction validate` through it); nil when not declared.
	Format *Option
	// Computes says what a `method: internal` operation computes (ComputePresignedURL);
	// "" for operations that are sent upstream, and for internal ones Junction cannot
	// compute (they answer 501, and validate says so).
	Computes     string
	Returns      *Type // nil when not declared
	Cache        time.Duration
	Timeout      time.Duration
	SuccessCodes []int
	GraphQL      *GraphQL // set for operations of graphql integrations
	SLO          *SLO     // nil: the integration's
	Cost         *Cost    // nil: the integration's
	// Send is what an operation of a websocket integration sends, and the reply it
	// awaits; nil for the other types.
	Send *SocketRequest
}

// MethodInternal marks operations that are not HTTP calls upstream.
const MethodInternal = "INTERNAL"

// ComputePresignedURL is what a `method: internal` operation of an aws_signature_v4
// integration computes: a presigned URL (SigV4 query-string authentication) that lets
// whoever holds it make one kind of request without the keys, until it expires.
const ComputePresignedURL = "presigned_url"

// The parameters of a presigned-URL operation, besides its path's and query's.
const (
	PresignMethodParam      = "method"       // GET (default), PUT, HEAD or DELETE
	PresignExpiresParam     = "expires_in"   // a duration ("15m") or seconds; default PresignExpiresDefault
	PresignContentTypeParam = "content_type" // a PUT's Content-Type, signed: the upload must send the same
)

// Presigned URL lifetimes: AWS accepts at most 7 days (X-Amz-Expires 604800).
const (
	PresignExpiresDefault = 15 * time.Minute
	PresignExpiresMax     = 7 * 24 * time.Hour
)

// PresignPathDefault is a presigned-URL operation's path when it declares none: the
// path-style object address, as the fixture's other S3 operations use.
const PresignPathDefault = "/{bucket}/{key}"

// GraphQL is a GraphQL operation's document and variables.
type GraphQL struct {
	Kind      string // "query" or "mutation"
	Document  string
	Variables []*Field
}

// Field is a named, typed parameter or member of a shape.
type Field struct {
	Pos        Pos
	Name       string
	Type       *Type
	Required   bool
	Optional   bool // written `optional`: a payload may leave it out
	HasDefault bool
	Default    any // a JSON value
}

// TypeKind classifies a Type.
type TypeKind string

// The type kinds. Scalars keep the name they were written with in Name.
const (
	KindScalar TypeKind = "scalar" // string, integer, decimal, boolean, timestamp, uuid, json, text, …
	KindList   TypeKind = "list"   // list(T)
	KindObject TypeKind = "object" // { field: type … }
	KindEnum   TypeKind = "enum"   // enum(a, b)
	KindBinary TypeKind = "binary" // raw bytes (returns: binary)
	KindVoid   TypeKind = "void"   // nothing (returns: void)
)

// Type is a value's declared type: a field's type or an operation's returns shape.
type Type struct {
	Kind   TypeKind
	Name   string   // scalar name
	Elem   *Type    // list element
	Fields []*Field // object members
	Enum   []string // enum values
}

// EventType is the declaration of a kind of event (`event NAME { … }`): its payload's
// shape and where events of that type are routed (publish_to). The events themselves
// are event.Event.
type EventType struct {
	Pos         Pos
	Name        string
	Description string
	Payload     []*Field
	PublishTo   []Target
}

// Target is a destination such as slack("#alerts") or webhook("monitoring").
type Target struct {
	Pos  Pos
	Kind string
	Name string
}

// Webhook is an outbound webhook declared in configuration (`webhook NAME { … }`).
type Webhook struct {
	Pos     Pos
	Name    string
	Events  []string
	URL     Value
	Method  string
	Headers []Header
	Retry   *Retry
	Secret  Value // the signing secret: env(NAME), "$NAME" or file(PATH); none: generated once and kept
}

// Source is an inbound webhook source: `source NAME { … }`, received at
// POST /ingest/NAME.
type Source struct {
	Pos       Pos
	Name      string
	Catalog   string // the catalog entry laid under it, "" for none
	Verify    string // standard_webhooks, github, stripe or hmac
	Secret    Value
	Event     string        // type of the published event; may hold {header:Name} and {body:field}
	Tolerance time.Duration // timestamp tolerance (standard_webhooks, stripe)
	Header    string        // hmac: the signature header
	Algorithm string        // hmac: sha256 or sha512
	IDHeader  string        // hmac: header with the provider's delivery id (dedupe)
	// Publish makes every new message also a webhook event (POST /events' path): stored,
	// delivered to the subscribed endpoints, run by the matching handlers.
	Publish bool
}

// The inbound verification schemes.
var VerifySchemes = []string{"standard_webhooks", "github", "stripe", "hmac"}

// Handler is `on "event" do ACTION "target" [async]`.
type Handler struct {
	Pos       Pos
	Event     string
	EventPos  Pos
	Action    string // workflow, integration, webhook, emit or plugin
	Target    string
	TargetPos Pos
	Async     bool
	// Trigger marks a handler made from a workflow's `trigger event "…"`, not written
	// as `on … do workflow`.
	Trigger bool
}
