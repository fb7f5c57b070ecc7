package integration

import (
	"slices"
	"time"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/format"
)

// operation is one operation compiled for calls: what the request builder and the stages
// need, resolved from the configuration once. The parameter declarations (fields and
// their types) are kept as declared: they are what parameters are checked against.
type operation struct {
	integration string
	name        string
	method      string // "" for the proxy, whose requests bring their own
	internal    bool   // `method: internal`: computed by Junction, never sent
	computes    string // what an internal operation computes (config.ComputePresignedURL); "" when nothing

	path       string
	pathParams []string
	query      []*config.Field
	body       []*config.Field
	headers    []headerTemplate
	graphql    *config.GraphQL // nil for REST operations
	binary     bool            // body_type: binary
	form       bool            // body_type: form
	xmlBody    bool            // body_type: xml
	codec      format.Codec    // body_type: avro or protobuf (bodyformat.go); set by client.compile
	codecType  []string        // codec's media type, the Content-Type and Accept of its requests
	acceptJSON bool            // send Accept: application/json (xml: application/xml) unless a header says otherwise

	successCodes []int         // empty: any 2xx
	timeout      time.Duration // per attempt
	cacheTTL     time.Duration
	returns      *config.Type
	params       []string // every parameter it accepts (config.Operation.Params)
	batched      bool     // sent through the integration's batcher
	// socket marks an operation of a websocket integration: it sends send's message
	// on the integration's connection and awaits the reply (stage_socket.go).
	socket bool
	send   *messageTemplate // compiled with the client (client.compile)

	run     handler // the compiled pipeline; nil while the integration is misconfigured
	metrics opMetrics
	usage   usage // what the usage reports need (reports.go)
}

// headerTemplate is an operation header whose value may hold {param} placeholders.
type headerTemplate struct {
	name, value string
	params      []string // nil when the value holds none (or is not a valid template)
}

func newOperation(in *config.Integration, decl *config.Operation) *operation {
	op := &operation{
		integration: in.Name, name: decl.Name, method: decl.Method,
		internal: decl.Method == config.MethodInternal, computes: decl.Computes,
		path: decl.Path, pathParams: decl.PathParams, query: decl.Query, body: decl.Body,
		graphql: decl.GraphQL, binary: decl.BodyType == "binary", form: decl.BodyType == "form", xmlBody: decl.BodyType == "xml",
		acceptJSON:   !(decl.Returns != nil && decl.Returns.Kind == config.KindBinary),
		successCodes: slices.Clone(decl.SuccessCodes),
		timeout:      attemptTimeout(decl.Timeout, in.Timeout),
		cacheTTL:     in.DefaultCacheTTL,
		returns:      decl.Returns,
		params:       decl.Params(),
		usage:        newUsage(in, decl),
	}
	if decl.Cache > 0 {
		op.cacheTTL = decl.Cache
	}
	if decl.Send != nil {
		op.socket, op.method = true, MethodSend
	}
	for _, h := range decl.Headers {
		tmpl := h.Value.String()
		params, _ := config.TemplateParams(tmpl)
		op.headers = append(op.headers, headerTemplate{name: h.Name, value: tmpl, params: params})
	}
	return op
}

// newProxyOperation is what a forwarded request runs through: the integration's own
// settings, no parameters, no response check.
func newProxyOperation(in *config.Integration) *operation {
	return &operation{integration: in.Name, name: "proxy", timeout: attemptTimeout(0, in.Timeout), cacheTTL: in.DefaultCacheTTL, usage: newUsage(in, nil)}
}

// attemptTimeout is the operation's timeout, else the integration's, else the default.
func attemptTimeout(op, in time.Duration) time.Duration {
	switch {
	case op > 0:
		return op
	case in > 0:
		return in
	}
	return TimeoutDefault
}

// success says whether status is one of the operation's success codes.
func (op *operation) success(status int) bool {
	if len(op.successCodes) == 0 {
		return status >= 200 && status < 300
	}
	return slices.Contains(op.successCodes, status)
}

// pipeline compiles op's stages, outermost first (the order is explained in
// pipeline.go). Each stage's constructor says whether the configuration asks for it; a
// stage it does not ask for is left out.
func (c *client) pipeline(in *config.Integration, op *operation) handler {
	op.metrics = newOpMetrics(c.env.metrics, op.integration, op.name)
	if op.internal {
		if op.computes == "" {
			return nil // call answers 501
		}
		// Computed here, never sent: the upstream's policies have nothing to act on.
		return compose(&observeStage{c: c, op: op}, &presignStage{c: c, op: op})
	}
	return compose(
		&observeStage{c: c, op: op},
		newIdempotencyStage(in),
		newFallbackStage(c, in, op),
		newCacheStage(c, in, op),
		newContractStage(c, op),
		&retryStage{c: c, op: op, policy: c.retry},
		newRateLimitStage(c, in, op),
		newBreakerStage(c, op),
		&timeoutStage{c: c, op: op},
		c.sendStage(op),
	)
}

// MethodSend is the method of a websocket integration's operations: they send a
// message rather than make an HTTP request.
const MethodSend = "SEND"

// sendStage is the pipeline's end: the auth stage, which makes the HTTP request, or
// for a websocket operation the socket stage.
func (c *client) sendStage(op *operation) stage {
	if op.socket {
		return &socketStage{c: c, op: op}
	}
	return &authStage{c: c, op: op, cred: c.st.cred}
}
