package config

import (
	"net/netip"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
)

// integrationSettingNames are the keys of an integration block, so a misplaced one at
// top level gets a helpful message.
var integrationSettingNames = func() map[string]bool {
	out := map[string]bool{}
	d := &decoder{rep: &reporter{}}
	for k := range d.integrationSettings(&Integration{}, &WebhookDelivery{}, d.retryGroup()) {
		out[k] = true
	}
	return out
}()

// integration decodes `integration NAME { … }`. A `type: webhook` block is the delivery
// settings of every webhook endpoint: it comes back as a WebhookDelivery, and the
// Integration is callable only if the block declares operations.
func (d *decoder) integration(pos Pos, name string, body []*Entry) (*Integration, *WebhookDelivery) {
	in := &Integration{Pos: pos, Name: name, Type: TypeREST}
	wd := &WebhookDelivery{Pos: pos, Name: name}
	retry := d.retryGroup()
	settings := d.integrationSettings(in, wd, retry)
	body, in.Catalog = d.withCatalog("integration", name, body, settings)
	d.block("integration "+name, body, settings)
	in.Retry = retry.retry()
	d.checkBaseURL(in)
	if !d.fragment {
		d.checkIntegration(in, wd)
	}
	if in.Type != TypeWebhook {
		return in, nil
	}
	wd.Timeout, wd.Retry, wd.CircuitBreaker, wd.Signature, wd.TLS = in.Timeout, in.Retry, in.CircuitBreaker, in.Signature, in.TLS
	for _, op := range in.Operations {
		if len(op.SuccessCodes) > 0 {
			wd.SuccessCodes = op.SuccessCodes
			break
		}
	}
	return in, wd
}

func (d *decoder) integrationSettings(in *Integration, wd *WebhookDelivery, retry *retryGroup) map[string]setting {
	settings := map[string]setting{
		"description": func(e *Entry) { in.Description, _ = d.str(e) },
		"type": func(e *Entry) {
			t, ok := d.name(e, "rest, graphql, webhook or websocket")
			if !ok {
				return
			}
			switch IntegrationType(t) {
			case TypeREST, TypeGraphQL, TypeWebhook, TypeWebSocket:
				in.Type = IntegrationType(t)
			case "grpc":
				d.rep.errorf(e.Value.Words[0].Position(), "type %s is not supported yet: expected rest, graphql, webhook or websocket", t)
			default:
				d.rep.errorf(e.Value.Words[0].Position(), "type: expected rest, graphql, webhook or websocket, found %s", t)
			}
		},
		"base_url": func(e *Entry) {
			if v, ok := d.value(e); ok {
				in.BaseURL = &v
			}
		},
		"auth":                     func(e *Entry) { in.Auth = d.auth(e) },
		"headers":                  func(e *Entry) { in.Headers = d.headers(e) },
		"timeout":                  func(e *Entry) { in.Timeout, _ = d.positiveDuration(e) },
		"circuit_breaker":          func(e *Entry) { in.CircuitBreaker = d.circuitBreaker(e) },
		"rate_limit":               func(e *Entry) { in.RateLimit = d.rateLimit(e) },
		"default_cache_ttl":        func(e *Entry) { in.DefaultCacheTTL, _ = d.duration(e) },
		"fallback":                 func(e *Entry) { in.Fallback = d.fallback(e) },
		"idempotency":              func(e *Entry) { in.Idempotency = d.idempotency(e) },
		"batching":                 func(e *Entry) { in.Batching = d.batching(e) },
		"signature":                func(e *Entry) { in.Signature = d.signature(e) },
		"slo":                      func(e *Entry) { in.SLO = d.slo(e) },
		"cost":                     func(e *Entry) { in.Cost = d.cost(e) },
		"tls":                      func(e *Entry) { in.TLS = d.tls(e) },
		"dead_letter":              func(e *Entry) { wd.DeadLetter = d.deadLetter(e) },
		"allowed_networks":         func(e *Entry) { wd.AllowedNetworks = d.cidrList(e) },
		"secret_overlap":           func(e *Entry) { wd.SecretOverlap, _ = d.positiveDuration(e) },
		"workers":                  func(e *Entry) { wd.Workers, _ = d.integer(e, 1, 1024) },
		"per_endpoint_concurrency": func(e *Entry) { wd.PerEndpointConcurrency, _ = d.integer(e, 1, 1024) },
		"operation": func(e *Entry) {
			if name, body, ok := d.namedBlock(e); ok {
				if prev := in.Operation(name); prev != nil {
					d.rep.errorf(e.KeyPos, "operation %s is declared twice in integration %s (first at line %d)", name, in.Name, prev.Pos.Line)
					return
				}
				in.Operations = append(in.Operations, d.operation(in, e.KeyPos, name, body))
			}
		},
	}
	d.socketSettings(in, settings)
	return retry.settings(settings)
}

// checkIntegration applies the rules that involve several settings.
func (d *decoder) checkIntegration(in *Integration, wd *WebhookDelivery) {
	d.checkDeliverySettings(in, wd)
	d.checkSocketIntegration(in, wd)
	if in.BaseURL == nil && in.Type != TypeWebhook && in.Type != TypeWebSocket && hasHTTPOperations(in) {
		d.rep.warnf(in.Pos, "integration %s has operations but no base_url: they cannot be called until it is set", in.Name)
	}
	if in.Batching != nil && in.Batching.Operation != "" && in.Operation(in.Batching.Operation) == nil {
		d.rep.errorf(in.Batching.Pos, "batching operation %q is not an operation of integration %s", in.Batching.Operation, in.Name)
	}
	for _, op := range in.Operations {
		d.checkSocketOperation(in, op)
		if in.Type != TypeWebSocket {
			d.checkOperationKind(in, op)
			d.internalOperation(in, op)
		}
	}
	if in.TLS != nil && in.BaseURL != nil && in.BaseURL.IsLiteral() && in.Type != TypeWebSocket {
		if u, _ := in.BaseURL.Resolve(nil); strings.HasPrefix(strings.ToLower(u), "http://") {
			d.rep.warnf(in.TLS.Pos, "integration %s: tls has no effect on calls to the http:// base_url; use https://", in.Name)
		}
	}
}

// checkDeliverySettings reports webhook delivery settings in an integration that is not
// type webhook, and call settings that do not apply to deliveries in one that is.
func (d *decoder) checkDeliverySettings(in *Integration, wd *WebhookDelivery) {
	if in.Type != TypeWebhook && (wd.AllowedNetworks != nil || wd.SecretOverlap != 0 || wd.Workers != 0 || wd.PerEndpointConcurrency != 0) {
		d.rep.errorf(in.Pos, "integration %s: allowed_networks, secret_overlap, workers and per_endpoint_concurrency are webhook delivery settings; set type: webhook", in.Name)
	}
	if in.Type != TypeWebhook && wd.DeadLetter != nil {
		d.rep.warnf(wd.DeadLetter.Pos, "integration %s: dead_letter keeps failed webhook deliveries and has no effect on calls; it belongs in the type: webhook block", in.Name)
	}
	if in.Type == TypeWebhook && !hasHTTPOperations(in) && (in.SLO != nil || in.Cost != nil) {
		d.rep.warnf(in.Pos, "integration %s: slo and cost apply to calls of its operations, not to webhook deliveries, and it declares none", in.Name)
	}
	if cb := in.CircuitBreaker; in.Type == TypeWebhook && cb != nil && (cb.MaxConcurrent != 0 || cb.NotifyOnOpen) {
		d.rep.warnf(cb.Pos, "integration %s: circuit_breaker max_concurrent and notify_on_open do not apply to webhook deliveries (per_endpoint_concurrency bounds them per endpoint)", in.Name)
	}
}

// checkOperationKind checks that an operation is what its integration's type calls: a
// GraphQL document, an HTTP method and path, or method: internal.
func (d *decoder) checkOperationKind(in *Integration, op *Operation) {
	switch {
	case in.Type == TypeGraphQL && op.GraphQL == nil && op.Method != MethodInternal:
		d.rep.errorf(op.Pos, "operation %s of graphql integration %s needs a query: or mutation: document", op.Name, in.Name)
	case in.Type != TypeGraphQL && op.GraphQL != nil:
		d.rep.errorf(op.Pos, "operation %s has a GraphQL document but integration %s is type %s: set type: graphql", op.Name, in.Name, in.Type)
	case op.GraphQL == nil && op.Method != MethodInternal && (op.Method == "" || op.Path == ""):
		d.rep.errorf(op.Pos, "operation %s needs method: and path: (or method: internal)", op.Name)
	}
}

// internalOperation says what a `method: internal` operation computes. The one thing
// Junction computes is a presigned URL, for an aws_signature_v4 integration; an
// internal operation of any other integration is kept (whole CodeAI files declare
// them) but answers 501, and validate warns.
func (d *decoder) internalOperation(in *Integration, op *Operation) {
	if op.Method != MethodInternal {
		return
	}
	if in.Auth == nil || in.Auth.Kind != AuthAWSSigV4 {
		d.rep.warnf(op.Pos, "operation %s of integration %s is method: internal, and Junction computes only presigned URLs of aws_signature_v4 integrations: calls of it answer 501 Not Implemented", op.Name, in.Name)
		return
	}
	if op.Path == "" {
		op.Path = PresignPathDefault
		op.PathParams, _ = TemplateParams(PresignPathDefault)
	}
	if len(op.Body) > 0 || op.BodyType != "json" || len(op.Headers) > 0 || op.GraphQL != nil {
		d.rep.errorf(op.Pos, "operation %s computes a presigned URL: it takes a path and query, not body, body_type or headers", op.Name)
	}
	for _, name := range op.Params() { // before Computes adds the presigning parameters
		if name == PresignMethodParam || name == PresignExpiresParam || name == PresignContentTypeParam {
			d.rep.errorf(op.Pos, "operation %s computes a presigned URL and takes %s itself: rename the path or query parameter %q", op.Name, name, name)
		}
	}
	op.Computes = ComputePresignedURL
}

func hasHTTPOperations(in *Integration) bool {
	for _, op := range in.Operations {
		if op.Method != MethodInternal {
			return true
		}
	}
	return false
}

// checkBaseURL checks a literal base URL against the integration's type: ws:// or
// wss:// for a websocket integration, http:// or https:// for the others. References
// are checked once resolved.
func (d *decoder) checkBaseURL(in *Integration) {
	v := in.BaseURL
	if v == nil || !v.IsLiteral() {
		return
	}
	s, _ := v.Resolve(nil)
	u, err := url.Parse(s)
	valid := err == nil && u.Host != ""
	switch {
	case in.Type == TypeWebSocket:
		if !valid || (u.Scheme != "ws" && u.Scheme != "wss") {
			d.rep.errorf(v.Pos, "base_url: a websocket integration connects to a ws:// or wss:// URL, found %q", s)
		}
	case valid && (u.Scheme == "ws" || u.Scheme == "wss"):
		d.rep.errorf(v.Pos, "base_url: %q is a WebSocket URL; set type: websocket, or give an http:// or https:// URL", s)
	case !valid || (u.Scheme != "http" && u.Scheme != "https"):
		d.rep.errorf(v.Pos, "base_url: expected an http:// or https:// URL, found %q", s)
	}
}

// checkURL checks a literal http(s) URL; references are checked once resolved.
func (d *decoder) checkURL(e *Entry, v Value) {
	if !v.IsLiteral() {
		return
	}
	s, _ := v.Resolve(nil)
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		d.rep.errorf(v.Pos, "%s: expected an http:// or https:// URL, found %q", e.Key, s)
	}
}

// cidrList reads ["127.0.0.0/8", "10.0.0.0/8"].
func (d *decoder) cidrList(e *Entry) []string {
	items, ok := d.list(e, `a list of networks such as ["127.0.0.0/8", "::1/128"]`)
	if !ok {
		return nil
	}
	out := []string{}
	for _, it := range items {
		s, isString := it.Single().(*String)
		if !isString {
			d.rep.errorf(it.Pos, "%s: expected a network in CIDR form as a string, found %s", e.Key, phraseText(it))
			continue
		}
		if _, err := netip.ParsePrefix(s.Value); err != nil {
			d.rep.errorf(s.P, "%s: %q is not a network in CIDR form such as 10.0.0.0/8", e.Key, s.Value)
			continue
		}
		out = append(out, s.Value)
	}
	return out
}

func (d *decoder) positiveDuration(e *Entry) (time.Duration, bool) {
	v, ok := d.duration(e)
	if ok && v <= 0 {
		d.rep.errorf(e.KeyPos, "%s: expected a duration greater than zero", e.Key)
		return 0, false
	}
	return v, ok
}

func (d *decoder) durationList(e *Entry) []time.Duration {
	items, ok := d.list(e, "a list of durations such as [1m, 5m, 30m]")
	if !ok {
		return nil
	}
	out := make([]time.Duration, 0, len(items))
	for _, it := range items {
		n := d.words(it).Single()
		if n == nil {
			d.rep.errorf(it.Pos, "%s: expected one duration per item, found %s", e.Key, phraseText(it))
			continue
		}
		v, err := durationOf(n)
		if err != nil {
			d.rep.errorf(n.Position(), "%s: %v", e.Key, err)
			continue
		}
		out = append(out, v)
	}
	return out
}

// headers reads `headers: { "Name": "value" … }`.
func (d *decoder) headers(e *Entry) []Header {
	_, entries, ok := d.object(e)
	if !ok {
		return nil
	}
	var out []Header
	seen := map[string]bool{}
	for _, h := range entries {
		canon := strings.ToLower(h.Key)
		if seen[canon] {
			d.rep.errorf(h.KeyPos, "header %s is given twice", h.Key)
			continue
		}
		seen[canon] = true
		if !httpguts.ValidHeaderFieldName(h.Key) {
			d.rep.errorf(h.KeyPos, "invalid header name %q: expected letters, digits and - (such as X-Api-Key)", h.Key)
			continue
		}
		if v, ok := d.value(h); ok {
			out = append(out, Header{Pos: h.KeyPos, Name: h.Key, Value: v})
		}
	}
	return out
}
