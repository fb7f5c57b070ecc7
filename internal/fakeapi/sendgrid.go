package fakeapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/clock"
)

// SendGridConfig configures the SendGrid fake.
type SendGridConfig struct {
	APIKey string // the one valid key, e.g. "SG.…"; required
	// VerifiedSenders are the from addresses allowed to send; empty allows any.
	VerifiedSenders []string
	RateLimit       int         // sends per minute; default 600
	Clock           clock.Clock // rate-limit resets; default the wall clock
}

// SendGridMessage is one message the fake accepted.
type SendGridMessage struct {
	ID      string
	From    string
	To      []string
	Subject string
	Request map[string]any // the body as sent
}

// SendGrid is a fake of Twilio SendGrid's Mail Send API v3
// (POST https://api.sendgrid.com/v3/mail/send; the fake serves /v3/mail/send):
//
//   - the body is SendGrid's JSON message: personalizations (1 to 1000, each with to
//     [{email, name}]), from {email, name}, subject (here or per personalization),
//     content [{type, value}] unless template_id; a message is accepted with 202, an
//     empty body and X-Message-Id
//   - a message that breaks a rule is 400 with SendGrid's
//     {"errors":[{"message","field","help"}]}, one entry per problem; a from address
//     not among VerifiedSenders is 403
//   - `Authorization: Bearer <key>`: missing or wrong is 401 with SendGrid's messages
//   - every answer carries X-RateLimit-Limit, -Remaining and -Reset (epoch seconds); a
//     send over the per-minute quota is 429 {"errors":[{"field":null,"message":"too
//     many requests"}]} until the reset
type SendGrid struct {
	*Server
	cfg SendGridConfig

	mu        sync.Mutex
	sent      []SendGridMessage
	remaining int
	resetAt   time.Time
}

// NewSendGrid starts the fake; it is closed when the test ends. Give the client
// URL()+"/v3" as the base URL.
func NewSendGrid(t testing.TB, cfg SendGridConfig) *SendGrid {
	t.Helper()
	if cfg.APIKey == "" {
		t.Fatal("fakeapi.NewSendGrid: APIKey is required")
	}
	if cfg.RateLimit <= 0 {
		cfg.RateLimit = 600
	}
	g := &SendGrid{cfg: cfg, remaining: cfg.RateLimit}
	g.Server = start(t, cfg.Clock, func(w http.ResponseWriter, _ *http.Request, status int) {
		msg := http.StatusText(status)
		if status == http.StatusTooManyRequests {
			msg = "too many requests"
		}
		writeJSON(w, status, sendGridErrors(sendGridError{Message: msg}))
	}, http.HandlerFunc(g.serve))
	return g
}

// Sent returns the accepted messages, oldest first.
func (g *SendGrid) Sent() []SendGridMessage {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.sent)
}

// SetRemaining sets how many sends are left before the reset.
func (g *SendGrid) SetRemaining(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.refillLocked()
	g.remaining = max(0, min(n, g.cfg.RateLimit))
}

type sendGridError struct {
	Message string  `json:"message"`
	Field   *string `json:"field"`
	Help    *string `json:"help"`
}

func sendGridErrors(errs ...sendGridError) map[string]any { return map[string]any{"errors": errs} }

func sendGridField(field, msg string) sendGridError {
	help := "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html#message." + field
	return sendGridError{Message: msg, Field: &field, Help: &help}
}

func (g *SendGrid) refillLocked() {
	now := g.clock.Now()
	if g.resetAt.IsZero() || !now.Before(g.resetAt) {
		g.remaining = g.cfg.RateLimit
		g.resetAt = now.Add(time.Minute).Truncate(time.Second)
	}
}

func (g *SendGrid) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v3/mail/send" || r.Method != http.MethodPost {
		writeJSON(w, http.StatusNotFound, sendGridErrors(sendGridError{Message: "resource not found"}))
		return
	}
	scheme, key, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	switch {
	case key == "":
		writeJSON(w, http.StatusUnauthorized, sendGridErrors(sendGridError{Message: "Permission denied, wrong credentials"}))
		return
	case !strings.EqualFold(scheme, "Bearer") || key != g.cfg.APIKey:
		writeJSON(w, http.StatusUnauthorized, sendGridErrors(sendGridError{Message: "The provided authorization grant is invalid, expired, or revoked"}))
		return
	}
	g.mu.Lock()
	g.refillLocked()
	limited := g.remaining == 0
	if !limited {
		g.remaining--
	}
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(g.cfg.RateLimit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(g.remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(g.resetAt.Unix(), 10))
	g.mu.Unlock()
	if limited {
		writeJSON(w, http.StatusTooManyRequests, sendGridErrors(sendGridError{Message: "too many requests"}))
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeJSON(w, http.StatusBadRequest, sendGridErrors(sendGridError{Message: "Content-Type should be application/json."}))
		return
	}
	dec := json.NewDecoder(bytes.NewReader(readBody(r)))
	dec.UseNumber()
	var msg map[string]any
	if err := dec.Decode(&msg); err != nil || msg == nil {
		writeJSON(w, http.StatusBadRequest, sendGridErrors(sendGridError{Message: "Bad Request"}))
		return
	}
	m, errs := sendGridCheck(msg)
	if len(errs) > 0 {
		writeJSON(w, http.StatusBadRequest, sendGridErrors(errs...))
		return
	}
	if len(g.cfg.VerifiedSenders) > 0 && !slices.Contains(g.cfg.VerifiedSenders, m.From) {
		writeJSON(w, http.StatusForbidden, sendGridErrors(sendGridError{Message: "The from address does not match a verified Sender Identity. Mail cannot be sent until this error is resolved. Visit https://sendgrid.com/docs/for-developers/sending-email/sender-identity/ to see the Sender Identity requirements"}))
		return
	}
	g.mu.Lock()
	m.ID = fakeID("", len(g.sent)+1, 22)
	g.sent = append(g.sent, m)
	g.mu.Unlock()
	w.Header().Set("X-Message-Id", m.ID)
	w.WriteHeader(http.StatusAccepted)
}

// sendGridCheck applies Mail Send's rules to a message.
func sendGridCheck(msg map[string]any) (SendGridMessage, []sendGridError) {
	m := SendGridMessage{Request: msg}
	var errs []sendGridError
	from, _ := msg["from"].(map[string]any)
	if email, _ := from["email"].(string); strings.Contains(email, "@") {
		m.From = email
	} else {
		errs = append(errs, sendGridField("from", "The from object must be provided for every email send. It is an object that requires the email parameter, but may also contain a name parameter."))
	}
	ps, _ := msg["personalizations"].([]any)
	if len(ps) == 0 || len(ps) > 1000 {
		errs = append(errs, sendGridField("personalizations", "The personalizations field is required and must have at least one personalization."))
	}
	subject, _ := msg["subject"].(string)
	m.Subject = subject
	_, template := msg["template_id"].(string)
	for i, p := range ps {
		pm, _ := p.(map[string]any)
		to, _ := pm["to"].([]any)
		if len(to) == 0 {
			errs = append(errs, sendGridField(fmt.Sprintf("personalizations.%d.to", i), "The to array is required for all personalization objects, and must have at least one email object with a valid email address."))
		}
		for _, x := range to {
			xm, _ := x.(map[string]any)
			email, _ := xm["email"].(string)
			if !emailPattern.MatchString(email) {
				errs = append(errs, sendGridField(fmt.Sprintf("personalizations.%d.to", i), "Does not contain a valid address."))
				continue
			}
			m.To = append(m.To, email)
		}
		if ps, _ := pm["subject"].(string); subject == "" && ps == "" && !template {
			errs = append(errs, sendGridField("subject", "The subject is required. You can get around this requirement if you use a template with a subject defined or if every personalization has a subject defined."))
		}
	}
	content, _ := msg["content"].([]any)
	if len(content) == 0 && !template {
		errs = append(errs, sendGridField("content", "Unless a valid template_id is provided, the content parameter is required. There must be at least one defined content block. We typically suggest both text/plain and text/html blocks are included, but only one block is required."))
	}
	for i, c := range content {
		cm, _ := c.(map[string]any)
		if t, _ := cm["type"].(string); t == "" {
			errs = append(errs, sendGridField(fmt.Sprintf("content.%d.type", i), "The content type cannot contain ';', or CRLF characters and must be at least 1 character."))
		}
		if v, _ := cm["value"].(string); v == "" {
			errs = append(errs, sendGridField(fmt.Sprintf("content.%d.value", i), "The content value must be a string at least one character in length."))
		}
	}
	return m, errs
}
