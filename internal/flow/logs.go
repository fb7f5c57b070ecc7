package flow

import (
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/event"
)

// logCapacity is how many recent message outcomes a flow keeps for `junction flow logs`.
const logCapacity = 500

// LogEntry is what became of one message.
type LogEntry struct {
	// Seq numbers the outcomes of every flow of the process in the order they were
	// logged; GET /flows/{name}/logs?after=SEQ returns those after one already seen.
	Seq        uint64          `json:"seq"`
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

// logSeq is the last LogEntry.Seq given. It starts at the process's start time in
// microseconds, so numbers keep growing over a reload (new flows, new rings) and over a
// restart, and a follower's `after` never hides new outcomes (it would take over a
// million outcomes a second, sustained, for a restarted process to start below).
var logSeq = func() *atomic.Uint64 {
	var n atomic.Uint64
	n.Store(uint64(time.Now().UnixMicro()))
	return &n
}()

// logRing keeps the last entries, oldest overwritten first.
type logRing struct {
	mu      sync.Mutex
	entries []LogEntry
	next    int
	full    bool
}

func newLogRing(n int) *logRing { return &logRing{entries: make([]LogEntry, n)} }

// add numbers e and keeps it; numbered under the lock, a ring's entries are in order.
func (r *logRing) add(e LogEntry) {
	r.mu.Lock()
	e.Seq = logSeq.Add(1)
	r.entries[r.next] = e
	r.next++
	if r.next == len(r.entries) {
		r.next, r.full = 0, true
	}
	r.mu.Unlock()
}

// last returns up to n entries numbered above after, newest first.
func (r *logRing) last(n int, after uint64) []LogEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	size := r.next
	if r.full {
		size = len(r.entries)
	}
	n = min(n, size)
	out := make([]LogEntry, 0, n)
	for i := 1; i <= n; i++ {
		e := r.entries[(r.next-i+len(r.entries))%len(r.entries)]
		if e.Seq <= after {
			break
		}
		out = append(out, e)
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
		// Only a body that failed to decode needs checking, or one of another format
		// (shown as text): the others are JSON.
		if res.err != nil && res.err.Step == "decode" || f.srcFormat != "JSON" {
			e.Payload = payloadJSON(d.Body)
		} else {
			e.Payload = json.RawMessage(d.Body)
		}
	}
	f.logs.add(e)
	if w := f.opts.Watchers; w != nil && w.Watched() {
		w.PublishWatched(messageEvent(f.cfg.Name, e))
	}

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

// MessageEvent is the watch-only event (event.Bus.PublishWatched) of a message's
// outcome, for `junction tail`: flow, message_id, outcome, and step and error when it
// failed, sinks when it was delivered. The payload is never in it.
const MessageEvent = "junction.flow.message"

func messageEvent(flowName string, e LogEntry) event.Event {
	fields := map[string]any{"flow": flowName, "message_id": e.MessageID, "outcome": e.Outcome, "attempts": e.Attempts, "duration_ms": e.DurationMs}
	if len(e.Sinks) > 0 {
		fields["sinks"] = e.Sinks
	}
	if e.Error != "" {
		fields["step"], fields["error"] = e.Step, e.Error
	}
	return event.Make(MessageEvent, event.SourceJunction, e.Time, fields)
}

// payloadJSON keeps a JSON body as it is and wraps anything else as a JSON string.
func payloadJSON(b []byte) json.RawMessage {
	if json.Valid(b) {
		return json.RawMessage(b)
	}
	s, _ := json.Marshal(string(b))
	return s
}
