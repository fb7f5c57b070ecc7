package server

import (
	"bytes"
	"cmp"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
)

// ProblemTypeBase prefixes every problem type URI. The URIs are identifiers that
// clients may switch on; they are stable across releases even if nothing is served there.
const ProblemTypeBase = "https://junction.dev/problems/"

// Kind is a class of error. Each kind has one problem type URI, one HTTP status and one
// title, so clients can branch on the type without parsing prose.
type Kind string

// The kinds of problem Junction answers with.
const (
	KindInvalidRequest       Kind = "invalid-request"        // 400
	KindUnauthorized         Kind = "unauthorized"           // 401
	KindForbidden            Kind = "forbidden"              // 403
	KindNotFound             Kind = "not-found"              // 404
	KindMethodNotAllowed     Kind = "method-not-allowed"     // 405
	KindConflict             Kind = "conflict"               // 409
	KindPayloadTooLarge      Kind = "payload-too-large"      // 413
	KindUnsupportedMediaType Kind = "unsupported-media-type" // 415
	KindInternal             Kind = "internal"               // 500
	KindUnavailable          Kind = "unavailable"            // 503
)

var kindInfo = map[Kind]struct {
	status int
	title  string
}{
	KindInvalidRequest:       {http.StatusBadRequest, "Invalid request"},
	KindUnauthorized:         {http.StatusUnauthorized, "Unauthorized"},
	KindForbidden:            {http.StatusForbidden, "Forbidden"},
	KindNotFound:             {http.StatusNotFound, "Not found"},
	KindMethodNotAllowed:     {http.StatusMethodNotAllowed, "Method not allowed"},
	KindConflict:             {http.StatusConflict, "Conflict"},
	KindPayloadTooLarge:      {http.StatusRequestEntityTooLarge, "Payload too large"},
	KindUnsupportedMediaType: {http.StatusUnsupportedMediaType, "Unsupported media type"},
	KindInternal:             {http.StatusInternalServerError, "Internal server error"},
	KindUnavailable:          {http.StatusServiceUnavailable, "Service unavailable"},

	// Failures of calls through the gateway (see gateway.go).
	KindCircuitOpen:    {http.StatusServiceUnavailable, "Circuit open"},
	KindBulkheadFull:   {http.StatusServiceUnavailable, "Too many concurrent calls"},
	KindRateLimited:    {http.StatusTooManyRequests, "Rate limited"},
	KindTimeout:        {http.StatusGatewayTimeout, "Upstream timeout"},
	KindUnreachable:    {http.StatusBadGateway, "Upstream unreachable"},
	KindGraphQL:        {http.StatusBadGateway, "GraphQL errors"},
	KindUpstreamBad:    {http.StatusBadGateway, "Invalid upstream response"},
	KindMisconfigured:  {http.StatusServiceUnavailable, "Integration misconfigured"},
	KindNotImplemented: {http.StatusNotImplemented, "Not implemented"},

	// The webhook API (see webhooks.go).
	KindInvalidSignature: {http.StatusUnauthorized, "Invalid signature"},
	KindEndpointDeclared: {http.StatusConflict, "Endpoint declared in the configuration"},

	// The flow API (see flows.go).
	KindFlowStopped:  {http.StatusConflict, "Flow not running"},
	KindReplayFailed: {http.StatusConflict, "Replay failed"},
}

// genericKinds is the kind a bare status stands for; several kinds share a status (401:
// unauthorized, invalid-signature), so the choice is explicit.
var genericKinds = map[int]Kind{
	http.StatusBadRequest:            KindInvalidRequest,
	http.StatusUnauthorized:          KindUnauthorized,
	http.StatusForbidden:             KindForbidden,
	http.StatusNotFound:              KindNotFound,
	http.StatusMethodNotAllowed:      KindMethodNotAllowed,
	http.StatusRequestEntityTooLarge: KindPayloadTooLarge,
	http.StatusUnsupportedMediaType:  KindUnsupportedMediaType,
	http.StatusInternalServerError:   KindInternal,
	http.StatusServiceUnavailable:    KindUnavailable,
}

// TypeURI is the problem type URI of the kind.
func (k Kind) TypeURI() string { return ProblemTypeBase + string(k) }

// FieldError points at one offending member of a request body. Field is the dotted path
// of the member ("role", "retry.max"); the empty string means the body as a whole.
type FieldError struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// Problem is an RFC 9457 problem details document. It is an error too, so a handler can
// return the problem it wants to answer with (see problemFor).
type Problem struct {
	Type     string       `json:"type"`
	Title    string       `json:"title"`
	Status   int          `json:"status"`
	Detail   string       `json:"detail"`
	Instance string       `json:"instance"`
	Errors   []FieldError `json:"errors,omitempty"`
	// Extensions are further members, written next to the standard ones. A key that
	// collides with a standard member ("type", "status", …, "errors") is ignored, so an
	// extension can never contradict the document it is part of.
	Extensions map[string]any `json:"-"`
	// header holds response headers that go with the problem (Retry-After, Allow, …).
	header http.Header
}

// Error is the detail, so a Problem returned as an error reads as what it says.
func (p Problem) Error() string {
	if p.Detail == "" {
		return p.Title
	}
	return p.Detail
}

// NewProblem returns the problem of the given kind with a human-readable detail.
// An unknown kind yields an internal problem rather than a malformed document.
func NewProblem(kind Kind, detail string) Problem {
	info, ok := kindInfo[kind]
	if !ok {
		kind, info = KindInternal, kindInfo[KindInternal]
	}
	return Problem{Type: kind.TypeURI(), Title: info.title, Status: info.status, Detail: detail}
}

// invalid returns a 400 problem listing the offending fields.
func invalid(detail string, errs ...FieldError) Problem {
	p := NewProblem(KindInvalidRequest, detail)
	p.Errors = errs
	return p
}

// With returns a copy of p with the extension member key set to value.
func (p Problem) With(key string, value any) Problem {
	ext := make(map[string]any, len(p.Extensions)+1)
	maps.Copy(ext, p.Extensions)
	ext[key] = value
	p.Extensions = ext
	return p
}

// WithHeader returns a copy of p that is sent with the response header key set to value.
func (p Problem) WithHeader(key, value string) Problem {
	h := p.header.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set(key, value)
	p.header = h
	return p
}

var standardMembers = map[string]bool{"type": true, "title": true, "status": true, "detail": true, "instance": true, "errors": true}

// MarshalJSON writes the standard members first, in RFC order, then the extensions in
// key order, so documents are stable and easy to read.
func (p Problem) MarshalJSON() ([]byte, error) {
	type plain Problem // drops this method, avoiding recursion
	std, err := json.Marshal(plain(p))
	if err != nil {
		return nil, err
	}
	keys := slices.Sorted(maps.Keys(p.Extensions))
	keys = slices.DeleteFunc(keys, func(k string) bool { return standardMembers[k] })
	if len(keys) == 0 {
		return std, nil
	}
	var buf bytes.Buffer
	buf.Write(std[:len(std)-1]) // without the closing brace
	for _, k := range keys {
		kb, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		vb, err := json.Marshal(p.Extensions[k])
		if err != nil {
			return nil, err
		}
		buf.WriteByte(',')
		buf.Write(kb)
		buf.WriteByte(':')
		buf.Write(vb)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// WriteProblem sends p as application/problem+json, with the headers that go with it.
// Missing members are filled in (see complete). A 401 gets the WWW-Authenticate
// challenge RFC 9110 requires.
func WriteProblem(w http.ResponseWriter, r *http.Request, p Problem) {
	p = p.complete(r)
	body, err := json.Marshal(p)
	if err != nil {
		// Only an unencodable extension value gets here; drop the extensions rather
		// than send a non-problem error.
		slog.Default().Error("encode problem", "err", err, "type", p.Type)
		p.Extensions = nil
		body, _ = json.Marshal(p)
	}
	h := w.Header()
	maps.Copy(h, p.header)
	if p.Status == http.StatusUnauthorized && h.Get("WWW-Authenticate") == "" {
		h.Set("WWW-Authenticate", `Bearer realm="junction"`)
	}
	h.Set("Content-Type", "application/problem+json")
	h.Set("Content-Length", strconv.Itoa(len(body)+1))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Encoding")
	w.WriteHeader(p.Status)
	_, _ = w.Write(append(body, '\n'))
}

// complete fills in what p lacks, so every error response carries all five standard
// members: status defaults to 500, type and title follow from the status, detail
// defaults to the title and instance is the request path.
func (p Problem) complete(r *http.Request) Problem {
	if p.Status < 400 || p.Status > 599 {
		p.Status = http.StatusInternalServerError
	}
	def := problemForStatus(p.Status)
	p.Type = cmp.Or(p.Type, def.Type)
	p.Title = cmp.Or(p.Title, def.Title, "Error")
	p.Detail = cmp.Or(p.Detail, p.Title)
	if p.Instance == "" && r != nil && r.URL != nil {
		p.Instance = r.URL.Path
	}
	return p
}

// problemForStatus maps a bare status code onto the kind that owns it, for callers that
// only know the status (the mux's own errors).
func problemForStatus(status int) Problem {
	if k, ok := genericKinds[status]; ok {
		return NewProblem(k, "")
	}
	// A status no kind owns: RFC 9457 says to use about:blank with the status phrase.
	return Problem{Type: "about:blank", Title: http.StatusText(status), Status: status}
}
