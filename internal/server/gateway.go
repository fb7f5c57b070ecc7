package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/junctionhq/junction/internal/auth"
	"github.com/junctionhq/junction/internal/integration"
)

// Gateway is what the server needs of the integration runtime (*integration.Runtime).
// It is swapped on configuration reload, so handlers fetch it per request.
type Gateway interface {
	integration.Caller
	Statuses() []integration.Status
	Health(name string) (integration.Health, error)
	ResetCircuit(name string) (string, error)
	Forward(ctx context.Context, integration string, fr integration.ForwardRequest) (*integration.Result, error)
	Operation(integration, operation string) (integration.OperationInfo, bool)
}

// Gateway request headers.
const (
	// HeaderTimeout bounds the whole call (attempts, back-off and rate-limit waits), e.g.
	// "5s", up to MaxCallTimeout. Without it a call may take up to
	// integration.DeadlineDefault.
	HeaderTimeout = "X-Junction-Timeout"
	// HeaderIdempotencyKey is passed on as the integration's idempotency key.
	HeaderIdempotencyKey = "Idempotency-Key"
	// MaxCallTimeout is the largest HeaderTimeout. A call must end while there is still
	// time to write its answer before the server's write timeout cuts the connection:
	// otherwise a POST that happened upstream is answered with nothing at all. It is
	// derived from the write timeout so that the two cannot drift apart.
	MaxCallTimeout = writeTimeout - answerMargin
	// answerMargin is the time left, after a call's deadline, to write its answer.
	answerMargin = 5 * time.Second
	// MaxForwardBodyBytes bounds the body of a proxied or binary request.
	MaxForwardBodyBytes = 10 << 20
)

// Problem kinds of calls, beside the generic ones.
const (
	KindCircuitOpen    Kind = "circuit-open"
	KindBulkheadFull   Kind = "bulkhead-full"
	KindRateLimited    Kind = "rate-limited"
	KindTimeout        Kind = "upstream-timeout"
	KindUnreachable    Kind = "upstream-unreachable"
	KindGraphQL        Kind = "graphql-errors"
	KindUpstreamBad    Kind = "upstream-invalid"
	KindMisconfigured  Kind = "integration-misconfigured"
	KindNotImplemented Kind = "not-implemented"
)

func (s *Server) gatewayRoutes() {
	s.handle("GET /integrations/status", auth.RoleUser, s.integrationStatus)
	s.handle("GET /integrations/{name}/health", auth.RoleUser, s.integrationHealth)
	s.handle("POST /integrations/{name}/circuit/reset", auth.RoleAdmin, s.circuitReset)
	s.handle("POST /integrations/{name}/operations/{op}", auth.RoleUser, s.callOperation)
	s.handle("/proxy/{name}/{path...}", auth.RoleUser, s.proxy)
}

// integrationStatus answers GET /integrations/status (B13, as seed 003).
func (s *Server) integrationStatus(w http.ResponseWriter, _ *http.Request) error {
	list := []IntegrationStatus{} // always a list, never null
	if gw := s.gateway(); gw != nil {
		for _, st := range gw.Statuses() {
			list = append(list, IntegrationStatus{
				Name: st.Name, Type: st.Type, Status: st.Status, CircuitState: st.CircuitState,
				ErrorRate: round(st.ErrorRate), LastSuccessAt: st.LastSuccessAt, LastFailureAt: st.LastFailureAt, Reason: st.Reason,
			})
		}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"integrations": list})
}

// healthBody is the body of GET /integrations/{name}/health: the seed's members in
// the seed's order (latencies in milliseconds, last_error null when there is none), then
// Junction's additions.
type healthBody struct {
	Name                 string  `json:"name"`
	Status               string  `json:"status"`
	CircuitState         string  `json:"circuit_state"`
	LatencyP50           int64   `json:"latency_p50"`
	LatencyP99           int64   `json:"latency_p99"`
	SuccessRate          float64 `json:"success_rate"`
	LastError            *string `json:"last_error"`
	Calls                int     `json:"calls"`
	ContractMismatches   int     `json:"contract_mismatches"`
	LastContractMismatch string  `json:"last_contract_mismatch,omitempty"`
	Reason               string  `json:"reason,omitempty"`
}

// integrationHealth answers GET /integrations/{name}/health over the sliding window.
func (s *Server) integrationHealth(w http.ResponseWriter, r *http.Request) error {
	gw := s.gateway()
	if gw == nil {
		return &integration.Error{Kind: integration.KindUnknownIntegration, Integration: r.PathValue("name"), Detail: "no such integration"}
	}
	h, err := gw.Health(r.PathValue("name"))
	if err != nil {
		return err
	}
	body := healthBody{
		Name: h.Name, Status: h.Status, CircuitState: h.CircuitState,
		LatencyP50: h.LatencyP50.Milliseconds(), LatencyP99: h.LatencyP99.Milliseconds(),
		SuccessRate: round(h.SuccessRate), Calls: h.Calls, ContractMismatches: h.ContractMismatches,
		LastContractMismatch: h.LastContractProblem, Reason: h.Reason,
	}
	if h.LastError != "" {
		body.LastError = &h.LastError
	}
	return writeJSON(w, http.StatusOK, body)
}

// circuitReset answers POST /integrations/{name}/circuit/reset (admin).
func (s *Server) circuitReset(w http.ResponseWriter, r *http.Request) error {
	gw := s.gateway()
	if gw == nil {
		return &integration.Error{Kind: integration.KindUnknownIntegration, Integration: r.PathValue("name"), Detail: "no such integration"}
	}
	state, err := gw.ResetCircuit(r.PathValue("name"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, struct {
		Name         string `json:"name"`
		CircuitState string `json:"circuit_state"`
	}{r.PathValue("name"), state})
}

// unknownOperation says which part of NAME.OP is unknown: the integration (naming the
// declared ones) or only the operation.
func unknownOperation(gw Gateway, name, opName string) error {
	var names []string
	if gw != nil {
		for _, st := range gw.Statuses() {
			if st.Name == name {
				return &integration.Error{Kind: integration.KindUnknownOperation, Integration: name, Operation: opName,
					Detail: fmt.Sprintf("integration %s has no operation %q", name, opName)}
			}
			names = append(names, st.Name)
		}
	}
	detail := fmt.Sprintf("no integration named %q is declared", name)
	if len(names) > 0 {
		detail += " (declared: " + strings.Join(names, ", ") + ")"
	}
	return &integration.Error{Kind: integration.KindUnknownIntegration, Integration: name, Detail: detail}
}

// callOperation answers POST /integrations/{name}/operations/{op} (B12). The body is a
// JSON object of parameters by name. For a `body_type: binary` operation the body may
// instead be the raw content (any non-JSON Content-Type), with the other parameters in
// the query string.
func (s *Server) callOperation(w http.ResponseWriter, r *http.Request) error {
	name, opName := r.PathValue("name"), r.PathValue("op")
	gw := s.gateway()
	var op integration.OperationInfo
	found := false
	if gw != nil {
		op, found = gw.Operation(name, opName)
	}
	if !found {
		return unknownOperation(gw, name, opName)
	}
	ctx, cancel, err := callContext(r)
	if err != nil {
		return err
	}
	defer cancel()

	co := integration.CallOptions{IdempotencyKey: r.Header.Get(HeaderIdempotencyKey)}
	var params map[string]any
	if op.BodyType == "binary" && !isJSON(r.Header.Get("Content-Type")) {
		raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxForwardBodyBytes))
		if err != nil {
			return NewProblem(KindPayloadTooLarge, fmt.Sprintf("request body is larger than the limit of %d bytes", MaxForwardBodyBytes))
		}
		co.Body = raw
		kv := map[string]string{}
		for k, vs := range r.URL.Query() {
			kv[k] = vs[len(vs)-1]
		}
		var err2 error
		if params, err2 = op.ParamsFromStrings(kv); err2 != nil {
			return invalid(err2.Error(), FieldError{Field: strings.SplitN(err2.Error(), ":", 2)[0], Detail: err2.Error()})
		}
	} else {
		data, err := readJSONBody(w, r, s.maxBodyBytes)
		if err != nil {
			return err
		}
		params = map[string]any{}
		if len(bytes.TrimSpace(data)) > 0 {
			if p := decodeInto(r, data, &params, true); p != nil {
				return *p
			}
		}
	}
	res, err := gw.Call(ctx, name, opName, params, co)
	if err != nil {
		return err
	}
	writeResult(w, res)
	return nil
}

// proxy answers ANY /proxy/{name}/{path…}: the request goes to the integration's base
// URL with its credentials and policies; the answer comes back as the upstream gave it.
func (s *Server) proxy(w http.ResponseWriter, r *http.Request) error {
	gw := s.gateway()
	if gw == nil {
		return &integration.Error{Kind: integration.KindUnknownIntegration, Integration: r.PathValue("name"), Detail: "no such integration"}
	}
	if !slices.Contains(integration.ForwardMethods, r.Method) {
		allow := strings.Join(integration.ForwardMethods, ", ")
		return NewProblem(KindMethodNotAllowed, fmt.Sprintf("method %s is not forwarded by the proxy; allowed: %s", r.Method, allow)).WithHeader("Allow", allow)
	}
	ctx, cancel, err := callContext(r)
	if err != nil {
		return err
	}
	defer cancel()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxForwardBodyBytes))
	if err != nil {
		return NewProblem(KindPayloadTooLarge, fmt.Sprintf("request body is larger than the limit of %d bytes", MaxForwardBodyBytes))
	}
	res, err := gw.Forward(ctx, r.PathValue("name"), integration.ForwardRequest{
		Method: r.Method, Path: proxiedPath(r), RawQuery: r.URL.RawQuery,
		Header: forwardHeaders(r.Header), Body: body,
	})
	if err != nil {
		return err
	}
	writeResult(w, res)
	return nil
}

// proxiedPath is the escaped path after /proxy/{name}: the decoded one (PathValue)
// would turn %2F into a separator and %3F, %23 into a query and a fragment.
func proxiedPath(r *http.Request) string {
	rest := strings.TrimPrefix(r.URL.EscapedPath(), "/proxy/")
	if _, after, ok := strings.Cut(rest, "/"); ok {
		return "/" + after
	}
	return "/"
}

// callContext gives the call its deadline: the caller's X-Junction-Timeout, at most
// MaxCallTimeout, or integration.DeadlineDefault. It is taken when the handler starts,
// before the body is read, since the write timeout runs from the end of the headers.
func callContext(r *http.Request) (context.Context, context.CancelFunc, error) {
	d := min(integration.DeadlineDefault, MaxCallTimeout)
	if v := r.Header.Get(HeaderTimeout); v != "" {
		var err error
		d, err = time.ParseDuration(v)
		if err != nil || d <= 0 || d > MaxCallTimeout {
			return nil, nil, invalid(fmt.Sprintf("%s must be a positive duration of at most %v, such as 5s or 1500ms; found %q", HeaderTimeout, MaxCallTimeout, v),
				FieldError{Field: HeaderTimeout, Detail: fmt.Sprintf("expected a positive duration of at most %v", MaxCallTimeout)})
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), d)
	return ctx, cancel, nil
}

// hopByHop headers belong to one connection and are never forwarded (RFC 9110 §7.6.1).
var hopByHop = []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// forwardHeaders keeps the end-to-end headers of a proxied request. Authorization is
// Junction's own token and never reaches the upstream; Host and Content-Length are set
// for the new request.
func forwardHeaders(in http.Header) http.Header {
	out := in.Clone()
	for _, h := range append(hopByHop, "Authorization", "Host", "Content-Length", HeaderTimeout) {
		out.Del(h)
	}
	for _, c := range in.Values("Connection") {
		for _, name := range strings.Split(c, ",") {
			out.Del(strings.TrimSpace(name))
		}
	}
	return out
}

// writeResult sends an upstream answer, with its end-to-end headers (an upload's ETag,
// a rate-limit header) and Junction's call headers.
func writeResult(w http.ResponseWriter, res *integration.Result) {
	h := w.Header()
	for k, vs := range res.Header {
		h[k] = vs
	}
	for _, k := range append(hopByHop, "Content-Length") {
		h.Del(k)
	}
	h.Set("X-Junction-Attempts", strconv.Itoa(res.Attempts))
	h.Set("X-Junction-Cache", res.Cache)
	h.Set("X-Junction-Circuit", res.Circuit)
	if res.Fallback != "" {
		h.Set("X-Junction-Fallback", res.Fallback)
	}
	if n := len(res.ContractMismatches); n > 0 {
		h.Set("X-Junction-Contract-Mismatches", strconv.Itoa(n))
	}
	h.Set("Content-Length", strconv.Itoa(len(res.Body)))
	w.WriteHeader(res.Status)
	_, _ = w.Write(res.Body)
}

func isJSON(ct string) bool {
	if ct == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// round keeps rates readable: four decimals.
func round(f float64) float64 { return math.Round(f*1e4) / 1e4 }
