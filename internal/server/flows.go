package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/junctionhq/junction/internal/auth"
	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/errkind"
	"github.com/junctionhq/junction/internal/flow"
	"github.com/junctionhq/junction/internal/format"
)

// Flows is what the flow API needs of the running flows.
type Flows interface {
	List(ctx context.Context) []flow.Status
	Status(ctx context.Context, name string) (flow.Status, error) // flow.ErrNotFound
	StartFlow(name string) error
	StopFlow(ctx context.Context, name string) error
	// Logs returns up to limit recent outcomes numbered above after (flow.LogEntry.Seq),
	// newest first.
	Logs(name string, limit int, after uint64) ([]flow.LogEntry, error)
	// DeadLetters lists a page of the flows' dead letters, newest first, and how many
	// match in all; Replay runs one through its flow again.
	DeadLetters(ctx context.Context, f flow.DeadLetterFilter) ([]flow.DeadLetter, int, error)
	Replay(ctx context.Context, deadLetterID string) error
	// Inbound hands a POST to /in/{path} to the flow receiving it; ok is false
	// when none does. It returns once the flow is done with the message.
	Inbound(ctx context.Context, path string, m connector.Message) (ok bool, err error)
	// InboundFormat is the codec of the source of the flow receiving POST /in/{path}:
	// nil when it takes JSON; ok is false when no flow receives path.
	InboundFormat(path string) (codec format.Codec, ok bool)
}

// Problem kinds of the flow API.
const (
	KindFlowStopped  Kind = "flow-stopped"  // 409: replay or inbound message while the flow is stopped
	KindReplayFailed Kind = "replay-failed" // 409: the replayed message failed again; it stays
)

// flowStopTimeout bounds how long POST /flows/{name}/stop waits for messages in flight.
const flowStopTimeout = 30 * time.Second

func (s *Server) flowRoutes() {
	s.handle("GET /flows", auth.RoleUser, s.listFlows)
	s.handle("GET /flows/{name}", auth.RoleUser, s.getFlow)
	s.handle("GET /flows/{name}/logs", auth.RoleUser, s.flowLogs)
	s.handle("POST /flows/{name}/start", auth.RoleAdmin, s.startFlow)
	s.handle("POST /flows/{name}/stop", auth.RoleAdmin, s.stopFlow)
	s.handle("POST /in/{path...}", auth.RoleUser, s.flowInbound)
}

func (s *Server) listFlows(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]any{"data": s.flows.List(r.Context())})
}

func (s *Server) getFlow(w http.ResponseWriter, r *http.Request) error {
	st, err := s.flows.Status(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, st)
}

func (s *Server) flowLogs(w http.ResponseWriter, r *http.Request) error {
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return invalid("invalid query parameters", FieldError{Field: "limit", Detail: "expected a whole number from 1 to 500"})
		}
		limit = n
	}
	var after uint64
	if v := r.URL.Query().Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return invalid("invalid query parameters", FieldError{Field: "after", Detail: "expected the seq of an outcome already seen (a whole number)"})
		}
		after = n
	}
	logs, err := s.flows.Logs(r.PathValue("name"), limit, after)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"data": logs})
}

func (s *Server) startFlow(w http.ResponseWriter, r *http.Request) error {
	if err := s.flows.StartFlow(r.PathValue("name")); err != nil {
		return err
	}
	return s.getFlow(w, r)
}

func (s *Server) stopFlow(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), flowStopTimeout)
	defer cancel()
	if err := s.flows.StopFlow(ctx, r.PathValue("name")); err != nil {
		return err
	}
	return s.getFlow(w, r)
}

// flowInbound answers 202 once the flow delivered the message (or kept it in its
// dead-letter queue), 503 when it could not take it (the caller should send it again).
// The body must be in the format of the flow's source (JSON unless its http source
// declares another): one that is not is refused with 400 (415 for a Content-Type that
// names another format) rather than accepted and dead-lettered.
func (s *Server) flowInbound(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBodyBytes))
	if err != nil {
		return NewProblem(KindPayloadTooLarge, "the message is larger than the request body limit")
	}
	path := r.PathValue("path")
	codec, ok := s.flows.InboundFormat(path)
	if !ok {
		return noInboundFlow(path)
	}
	if p := checkInboundBody(codec, r.Header.Get("Content-Type"), body); p != nil {
		return *p
	}
	headers := map[string]string{"content_type": r.Header.Get("Content-Type"), "path": path}
	ok, err = s.flows.Inbound(r.Context(), path, connector.Message{Body: body, Headers: headers, Time: s.clock()})
	switch {
	case !ok:
		// The flow stopped between the two questions.
		return noInboundFlow(path)
	case err != nil:
		// The flow keeps nothing it could not take; the sender's retry is what delivers it.
		return NewProblem(KindUnavailable, "the flow could not take the message now; send it again")
	}
	return writeJSON(w, http.StatusAccepted, map[string]any{"accepted": true})
}

func noInboundFlow(path string) Problem {
	return NewProblem(KindNotFound, "no running flow receives /in/"+path)
}

// checkInboundBody checks a body POSTed to /in/ against the format of the flow's source
// (codec; nil for JSON). JSON and XML bodies need a Content-Type of their format, or
// none; Avro and Protobuf have no registered media type, so any is taken. The body is
// decoded: one that does not decode is the sender's mistake, answered 400 now. A
// decoder that needs a service it cannot reach (a schema registry) lets the body
// through; the flow retries the decoding with its policy.
func checkInboundBody(codec format.Codec, contentType string, body []byte) *Problem {
	if codec == nil {
		if p := checkJSONContentType(contentType); p != nil {
			return p
		}
		if !json.Valid(body) {
			p := invalid("the message is not JSON: the flow receiving it reads JSON documents", FieldError{Field: "", Detail: "expected a JSON value"})
			return &p
		}
		return nil
	}
	name := format.Name(codec)
	if _, isXML := codec.(format.XML); isXML && strings.TrimSpace(contentType) != "" && !format.IsXMLContentType(contentType) {
		p := NewProblem(KindUnsupportedMediaType, fmt.Sprintf("Content-Type %q is not supported; the flow receiving it reads XML: send application/xml", contentType))
		return &p
	}
	_, err := codec.Decode(body)
	if _, unavailable := errors.AsType[*format.UnavailableError](err); err == nil || unavailable {
		return nil
	}
	p := invalid(fmt.Sprintf("the message is not %s: the flow receiving it reads %s messages", name, name),
		FieldError{Field: "", Detail: err.Error()})
	return &p
}

func (s *Server) listFlowDeadLetters(w http.ResponseWriter, r *http.Request) error {
	p, errs := listQuery(r, "flow", "queue")
	if len(errs) > 0 {
		return invalid("invalid query parameters", errs...)
	}
	if s.flows == nil {
		return writeJSON(w, http.StatusOK, pagedOf[flowDeadLetterJSON]{Data: []flowDeadLetterJSON{}, Pagination: pageOf(p, 0)})
	}
	q := r.URL.Query()
	dls, total, err := s.flows.DeadLetters(r.Context(), flow.DeadLetterFilter{Flow: q.Get("flow"), Queue: q.Get("queue"), Page: p})
	if err != nil {
		return err
	}
	data := make([]flowDeadLetterJSON, len(dls))
	for i, d := range dls {
		data[i] = toFlowDeadLetterJSON(d)
	}
	return writeJSON(w, http.StatusOK, pagedOf[flowDeadLetterJSON]{Data: data, Pagination: pageOf(p, total)})
}

func (s *Server) replayFlowDeadLetter(w http.ResponseWriter, r *http.Request) error {
	if s.flows == nil {
		return NewProblem(KindNotFound, "no such dead letter")
	}
	err := s.flows.Replay(r.Context(), r.PathValue("id"))
	err = describe(err, errkind.ErrNotFound, "no such dead letter")
	err = describe(err, errkind.ErrUnavailable, "the dead letter could not be read or removed because the store is unavailable; retry later")
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, replayedAnswer{ID: r.PathValue("id"), Replayed: true})
}

// replayedAnswer is the answer to replaying a flow's dead letter: it went through the
// flow again.
type replayedAnswer struct {
	ID       string `json:"id"`
	Replayed bool   `json:"replayed"`
}

// flowDeadLetterJSON is a flow's dead letter in the API. The body is shown as JSON when
// it is JSON, as a string when it is text, and in message_base64 (message null) when
// it is neither (Avro, Protocol Buffers), so no byte of it is lost in the showing.
type flowDeadLetterJSON struct {
	ID      string `json:"id"`
	Flow    string `json:"flow"`
	Queue   string `json:"queue"`
	Step    string `json:"step"`
	Error   string `json:"error"`
	Message any    `json:"message"`
	// MessageBase64 is the body when it is not UTF-8 text.
	MessageBase64 string            `json:"message_base64,omitempty"`
	Headers       map[string]string `json:"headers,omitempty"`
	SourceID      string            `json:"source_id,omitempty"`
	Attempts      int               `json:"attempts"`
	CreatedAt     time.Time         `json:"created_at"`
	// Accepted[i]: the sinks that have the i-th message the flow's steps made from it
	// (one unless a step split it); a replay skips them.
	Accepted [][]string `json:"accepted,omitempty"`
}

func toFlowDeadLetterJSON(d flow.DeadLetter) flowDeadLetterJSON {
	out := flowDeadLetterJSON{
		ID: d.ID, Flow: d.Flow, Queue: d.Queue, Step: d.Step, Error: d.Error,
		Message: rawOrString(d.Body), Headers: d.Headers, SourceID: d.SourceID,
		Attempts: d.Attempts, CreatedAt: d.CreatedAt, Accepted: d.Accepted,
	}
	if !utf8.Valid(d.Body) {
		out.Message, out.MessageBase64 = nil, base64.StdEncoding.EncodeToString(d.Body)
	}
	return out
}

func rawOrString(b []byte) any {
	if json.Valid(b) {
		return json.RawMessage(b)
	}
	return string(b)
}
