package flow

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/junctionhq/junction/internal/connector"
)

// logCapacity is how many recent message outcomes a flow keeps for `junction flow logs`.
const logCapacity = 500

// LogEntry is what became of one message.
type LogEntry struct {
	Time       time.Time       `json:"time"`
	MessageID  string          `json:"message_id"`
	Outcome    string          `json:"outcome"`
	Sinks      []string        `json:"sinks,omitempty"`
	Step       string          `json:"step,omitempty"`
	Error      string          `json:"error,omitempty"`
	Attempts   int             `json:"attempts"`
	DurationMs float64         `json:"duration_ms"`
	Payload    json.RawMessage `json:"payload,omitempty"` // only with logging { include_payload: true }
}

// logRing keeps the last entries, oldest overwritten first.
type logRing struct {
	mu      sync.Mutex
	entries []LogEntry
	next    int
	full    bool
}

func newLogRing(n int) *logRing { return &logRing{entries: make([]LogEntry, n)} }

func (r *logRing) add(e LogEntry) {
	r.mu.Lock()
	r.entries[r.next] = e
	r.next++
	if r.next == len(r.entries) {
		r.next, r.full = 0, true
	}
	r.mu.Unlock()
}

// last returns up to n entries, newest first.
func (r *logRing) last(n int) []LogEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	size := r.next
	if r.full {
		size = len(r.entries)
	}
	n = min(n, size)
	out := make([]LogEntry, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, r.entries[(r.next-i+len(r.entries))%len(r.entries)])
	}
	return out
}

func (f *Flow) logOutcome(d connector.Delivery, outcome string, res result, took time.Duration) {
	e := LogEntry{
		Time: f.opts.Env.Clock.Now().UTC(), MessageID: d.ID, Outcome: outcome,
		Sinks: res.sinks, Attempts: res.attempts, DurationMs: float64(took.Microseconds()) / 1000,
	}
	if res.err != nil {
		e.Step, e.Error = res.err.Step, res.err.Err.Error()
	}
	if f.cfg.Monitoring.IncludePayload {
		// Only a body that failed to decode needs checking: the others are JSON.
		if res.err != nil && res.err.Step == "decode" {
			e.Payload = payloadJSON(d.Body)
		} else {
			e.Payload = json.RawMessage(d.Body)
		}
	}
	f.logs.add(e)

	log := f.opts.Env.Logger
	switch {
	case outcome == OutcomeDeadLettered || outcome == "replay_failed":
		log.Warn("flow message failed", "flow", f.cfg.Name, "message", d.ID, "outcome", outcome, "step", e.Step, "error", e.Error)
	case f.cfg.Monitoring.LogLevel == "debug":
		args := []any{"flow", f.cfg.Name, "message", d.ID, "outcome", outcome, "sinks", res.sinks}
		if e.Payload != nil {
			args = append(args, "payload", string(e.Payload))
		}
		log.Debug("flow message", args...)
	}
}

// payloadJSON keeps a JSON body as it is and wraps anything else as a JSON string.
func payloadJSON(b []byte) json.RawMessage {
	if json.Valid(b) {
		return json.RawMessage(b)
	}
	s, _ := json.Marshal(string(b))
	return s
}
