package wsclient

import (
	"encoding/json"
	"strconv"

	"github.com/junctionhq/junction/internal/transform"
)

// Request is a message to send and, when Reply is set, what answers it.
type Request struct {
	Message []byte // sent as a text message
	Reply   *Match // nil: nothing is awaited
}

// Match picks the received message that answers a request: the one whose value at Path,
// as Text, is Value.
type Match struct {
	Path  *transform.Path
	Value string
	// Error, when set, finds a refusal in the reply: a value other than null there.
	Error *transform.Path
}

// matches reports whether doc, a decoded message, answers m.
func (m *Match) matches(doc any) bool {
	v, ok := m.Path.First(doc)
	return ok && Text(v) == m.Value
}

// Refusal returns the reply's value at the Error path when the upstream refused the
// request, as JSON text; ok is false for an answer that is no refusal.
func (m *Match) Refusal(reply []byte) (refusal string, ok bool) {
	if m.Error == nil {
		return "", false
	}
	doc, err := transform.Decode(reply)
	if err != nil {
		return "", false
	}
	v, found := m.Error.First(doc)
	if !found || v == nil {
		return "", false
	}
	b, err := transform.Encode(v)
	if err != nil {
		return "", false
	}
	return string(b), true
}

// Text is how a request's and a reply's values are compared: a string is its text, a
// number its literal, null "null", anything else its JSON. So the id 7 a request sent
// matches "7" in a reply that quotes it.
func Text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return "null"
	}
	b, err := transform.Encode(v)
	if err != nil {
		return ""
	}
	return string(b)
}
