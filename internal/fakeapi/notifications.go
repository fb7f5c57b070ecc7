package fakeapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/junctionhq/junction/internal/clock"
)

// NotificationsConfig configures the notification service fake.
type NotificationsConfig struct {
	APIKey string      // the one valid X-API-Key; required
	Clock  clock.Clock // default the wall clock
}

// Notification is one message the fake accepted for delivery.
type Notification struct {
	Channel   string // email, sms or push
	To        string // address, phone number or user id
	Subject   string // email subject or push title
	Body      string // email body (HTML, else text), SMS text or push body
	MessageID string
	BatchID   string // "" when sent on its own
}

// Notifications is a fake of a SendGrid-style multi-channel notification service:
//
//   - POST /email {to, subject, body_html, body_text?, from?, reply_to?, attachments?}
//   - POST /sms {to (E.164), message (≤ 1600 characters), from?}
//   - POST /push {user_id, title, body, data?, badge_count?}
//   - POST /batch {"notifications": [ … ]} with up to 1000 items, each either one call of
//     the above with an "operation" member naming it (send_email, send_sms, send_push —
//     the form Junction's batching sends) or {channel, recipient, content} (the form the
//     configuration's send_batch declares)
//
// Single calls answer 202 {message_id, status: "queued"} ({message_id, delivered_count}
// for push) or 400 {"errors":[{"field","message"}]}; a batch answers 202 {batch_id,
// accepted, rejected}, counting invalid items as rejected rather than failing the batch
// (with SetBatchResults, also a results list with one entry per item). The key is the
// X-API-Key header (missing or wrong: 401); bodies must be JSON (else 415).
type Notifications struct {
	*Server
	cfg NotificationsConfig

	mu           sync.Mutex
	seq          int
	messages     []Notification
	batchResults bool
}

// maxBatchItems is the most items one batch may carry.
const maxBatchItems = 1000

// NewNotifications starts the fake; it is closed when the test ends.
func NewNotifications(t testing.TB, cfg NotificationsConfig) *Notifications {
	t.Helper()
	if cfg.APIKey == "" {
		t.Fatal("fakeapi.NewNotifications: APIKey is required")
	}
	n := &Notifications{cfg: cfg}
	n.Server = start(t, cfg.Clock, func(w http.ResponseWriter, _ *http.Request, status int) {
		writeJSON(w, status, notifyErrors(notifyFieldError{Message: http.StatusText(status)}))
	}, http.HandlerFunc(n.serve))
	return n
}

// Messages returns every notification accepted so far, in order.
func (n *Notifications) Messages() []Notification {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.messages)
}

// SetBatchResults adds to each batch answer a "results" list with one entry per item
// ({message_id, status} or {status: "rejected", errors}), as some providers do. Off by
// default, as in the configuration's declared answer.
func (n *Notifications) SetBatchResults(on bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.batchResults = on
}

type notifyFieldError struct {
	Field   *string `json:"field"`
	Message string  `json:"message"`
}

func notifyErrors(errs ...notifyFieldError) map[string]any {
	return map[string]any{"errors": errs}
}

func fieldErr(field, msg string) notifyFieldError {
	return notifyFieldError{Field: &field, Message: msg}
}

func (n *Notifications) serve(w http.ResponseWriter, r *http.Request) {
	switch key := r.Header.Get("X-API-Key"); {
	case key == "":
		writeJSON(w, http.StatusUnauthorized, notifyErrors(notifyFieldError{Message: "authorization required"}))
		return
	case key != n.cfg.APIKey:
		writeJSON(w, http.StatusUnauthorized, notifyErrors(notifyFieldError{Message: "The provided authorization grant is invalid, expired, or revoked"}))
		return
	}
	channel := map[string]string{"/email": "email", "/sms": "sms", "/push": "push", "/batch": "batch"}[r.URL.Path]
	if channel == "" || r.Method != http.MethodPost {
		writeJSON(w, http.StatusNotFound, notifyErrors(notifyFieldError{Message: "not found"}))
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeJSON(w, http.StatusUnsupportedMediaType, notifyErrors(notifyFieldError{Message: "Content-Type should be application/json."}))
		return
	}
	var body map[string]any
	dec := json.NewDecoder(bytes.NewReader(readBody(r)))
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil || body == nil {
		writeJSON(w, http.StatusBadRequest, notifyErrors(fieldErr("", "Bad Request: the body must be a JSON object")))
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if channel == "batch" {
		n.batch(w, body)
		return
	}
	msg, errs := parseNotification(channel, body)
	if len(errs) > 0 {
		writeJSON(w, http.StatusBadRequest, notifyErrors(errs...))
		return
	}
	msg = n.accept(msg, "")
	w.Header().Set("X-Message-Id", msg.MessageID)
	if channel == "push" {
		writeJSON(w, http.StatusAccepted, map[string]any{"message_id": msg.MessageID, "delivered_count": 1})
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"message_id": msg.MessageID, "status": "queued"})
}

func (n *Notifications) accept(msg Notification, batch string) Notification {
	n.seq++
	msg.MessageID = fakeID("msg_", n.seq, 20)
	msg.BatchID = batch
	n.messages = append(n.messages, msg)
	return msg
}

func (n *Notifications) batch(w http.ResponseWriter, body map[string]any) {
	list, ok := body["notifications"].([]any)
	switch {
	case !ok:
		writeJSON(w, http.StatusBadRequest, notifyErrors(fieldErr("notifications", "is required and must be a list")))
		return
	case len(list) == 0:
		writeJSON(w, http.StatusBadRequest, notifyErrors(fieldErr("notifications", "must contain at least one notification")))
		return
	case len(list) > maxBatchItems:
		writeJSON(w, http.StatusBadRequest, notifyErrors(fieldErr("notifications", fmt.Sprintf("must contain at most %d notifications", maxBatchItems))))
		return
	}
	n.seq++
	batchID := fakeID("bat_", n.seq, 20)
	accepted, rejected := 0, 0
	results := make([]any, len(list))
	for i, raw := range list {
		item, _ := raw.(map[string]any)
		msg, errs := parseBatchItem(item)
		for j := range errs {
			field := fmt.Sprintf("notifications[%d]", i)
			if errs[j].Field != nil && *errs[j].Field != "" {
				field += "." + *errs[j].Field
			}
			errs[j].Field = &field
		}
		if len(errs) > 0 {
			rejected++
			results[i] = map[string]any{"status": "rejected", "errors": errs}
			continue
		}
		accepted++
		msg = n.accept(msg, batchID)
		results[i] = map[string]any{"message_id": msg.MessageID, "status": "queued"}
	}
	answer := map[string]any{"batch_id": batchID, "accepted": accepted, "rejected": rejected}
	if n.batchResults {
		answer["results"] = results
	}
	writeJSON(w, http.StatusAccepted, answer)
}

// parseBatchItem reads one item of a batch in either of its two forms.
func parseBatchItem(item map[string]any) (Notification, []notifyFieldError) {
	if item == nil {
		return Notification{}, []notifyFieldError{fieldErr("", "must be an object")}
	}
	if op, ok := item["operation"]; ok {
		channel := map[any]string{"send_email": "email", "send_sms": "sms", "send_push": "push"}[op]
		if channel == "" {
			return Notification{}, []notifyFieldError{fieldErr("operation", fmt.Sprintf("unknown operation %v", op))}
		}
		rest := map[string]any{}
		for k, v := range item {
			if k != "operation" {
				rest[k] = v
			}
		}
		return parseNotification(channel, rest)
	}
	channel, _ := item["channel"].(string)
	recipient, _ := item["recipient"].(string)
	content, _ := item["content"].(map[string]any)
	if content == nil {
		content = map[string]any{}
	}
	var fields map[string]any
	switch channel {
	case "email":
		fields = map[string]any{"to": recipient, "subject": content["subject"], "body_html": cmpAny(content["body_html"], content["body"]), "body_text": content["body_text"]}
	case "sms":
		fields = map[string]any{"to": recipient, "message": cmpAny(content["message"], content["body"])}
	case "push":
		fields = map[string]any{"user_id": recipient, "title": content["title"], "body": content["body"], "data": content["data"]}
	default:
		return Notification{}, []notifyFieldError{fieldErr("channel", fmt.Sprintf("must be email, sms or push, not %q", channel))}
	}
	for k, v := range fields {
		if v == nil {
			delete(fields, k)
		}
	}
	return parseNotification(channel, fields)
}

func cmpAny(a, b any) any {
	if a != nil {
		return a
	}
	return b
}

var (
	notifyEmail = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
	notifyPhone = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
)

// parseNotification validates one single call's body.
func parseNotification(channel string, body map[string]any) (Notification, []notifyFieldError) {
	var errs []notifyFieldError
	str := func(name string, required bool) string {
		v, ok := body[name]
		if !ok || v == nil {
			if required {
				errs = append(errs, fieldErr(name, "is required"))
			}
			return ""
		}
		s, isString := v.(string)
		if !isString {
			errs = append(errs, fieldErr(name, "must be a string"))
		} else if required && strings.TrimSpace(s) == "" {
			errs = append(errs, fieldErr(name, "must not be empty"))
		}
		return s
	}
	allowed := map[string][]string{
		"email": {"to", "subject", "body_html", "body_text", "from", "reply_to", "attachments"},
		"sms":   {"to", "message", "from"},
		"push":  {"user_id", "title", "body", "data", "badge_count"},
	}[channel]
	for k := range body {
		if !slices.Contains(allowed, k) {
			errs = append(errs, fieldErr(k, "is not a known field"))
		}
	}
	msg := Notification{Channel: channel}
	switch channel {
	case "email":
		msg.To = str("to", true)
		msg.Subject = str("subject", true)
		msg.Body = str("body_html", true)
		if text := str("body_text", false); msg.Body == "" {
			msg.Body = text
		}
		if from := str("from", false); from != "" && !notifyEmail.MatchString(from) {
			errs = append(errs, fieldErr("from", "The from email does not contain a valid address."))
		}
		_ = str("reply_to", false)
		if msg.To != "" && !notifyEmail.MatchString(msg.To) {
			errs = append(errs, fieldErr("to", "The to email does not contain a valid address."))
		}
		if a, ok := body["attachments"]; ok && a != nil {
			if _, isList := a.([]any); !isList {
				errs = append(errs, fieldErr("attachments", "must be a list"))
			}
		}
	case "sms":
		msg.To = str("to", true)
		msg.Body = str("message", true)
		_ = str("from", false)
		if msg.To != "" && !notifyPhone.MatchString(msg.To) {
			errs = append(errs, fieldErr("to", "must be a phone number in E.164 format, such as +14155550123"))
		}
		if len([]rune(msg.Body)) > 1600 {
			errs = append(errs, fieldErr("message", "must be at most 1600 characters"))
		}
	case "push":
		msg.To = str("user_id", true)
		msg.Subject = str("title", true)
		msg.Body = str("body", true)
		if d, ok := body["data"]; ok && d != nil {
			if _, isObj := d.(map[string]any); !isObj {
				errs = append(errs, fieldErr("data", "must be an object"))
			}
		}
		if b, ok := body["badge_count"]; ok && b != nil {
			if num, isNum := b.(json.Number); !isNum || strings.ContainsAny(num.String(), ".eE-") {
				errs = append(errs, fieldErr("badge_count", "must be a non-negative integer"))
			}
		}
	}
	slices.SortFunc(errs, func(a, b notifyFieldError) int { return strings.Compare(*a.Field, *b.Field) })
	return msg, errs
}
