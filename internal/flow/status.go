package flow

import (
	"slices"
	"sync"
	"time"
)

// Status is a flow as GET /flows/{name} shows it.
type Status struct {
	Name            string     `json:"name"`
	Description     string     `json:"description,omitempty"`
	State           State      `json:"state"`
	Source          string     `json:"source"`
	Sinks           []string   `json:"sinks"`
	Steps           []StepInfo `json:"steps"`
	StartedAt       *time.Time `json:"started_at,omitempty"`
	MaxInFlight     int        `json:"max_in_flight"`
	InFlight        int64      `json:"in_flight"`
	Counters        Counters   `json:"counters"`
	Rates           Rates      `json:"rates"`
	DeadLetterQueue string     `json:"dead_letter_queue"`
	DeadLetters     int        `json:"dead_letters"`
	LastError       *LastError `json:"last_error,omitempty"`
	// SourceLease names the lease the flow's source runs under when it is a singleton
	// (one node of a cluster reads it); SourceHolder is the node holding it while this
	// one stands by.
	SourceLease  string `json:"source_lease,omitempty"`
	SourceHolder string `json:"source_holder,omitempty"`
}

// StepInfo names a step and its kind.
type StepInfo struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
}

// Counters count messages since the server started.
type Counters struct {
	Received     int64 `json:"received"`
	Delivered    int64 `json:"delivered"`
	Filtered     int64 `json:"filtered"`
	DeadLettered int64 `json:"dead_lettered"`
	Requeued     int64 `json:"requeued"`
	Retries      int64 `json:"retries"`
}

// Rates are messages per second over the last minute.
type Rates struct {
	ReceivedPerSecond  float64 `json:"received_per_second"`
	DeliveredPerSecond float64 `json:"delivered_per_second"`
}

func (f *Flow) status(deadLetters int) Status {
	f.mu.Lock()
	st := Status{
		Name: f.cfg.Name, Description: f.cfg.Description, State: f.state,
		Source: f.cfg.Source.Connector, Sinks: slices.Clone(f.sinkNames), MaxInFlight: f.inFlight,
		DeadLetterQueue: f.queue, DeadLetters: deadLetters,
	}
	if f.state != StateStopped {
		t := f.startedAt.UTC()
		st.StartedAt = &t
	}
	if f.lastError != nil {
		e := *f.lastError
		st.LastError = &e
	}
	if f.gate != nil && f.state != StateStopped {
		st.SourceLease = SourceLeasePrefix + f.cfg.Name
		if f.state == StateStandby {
			// No holder known yet (the first answer of the store is on its way): starting.
			if st.SourceHolder = f.gate.holder(); st.SourceHolder == "" {
				st.State = StateStarting
			}
		}
	}
	if f.misconfigured != "" {
		st.State = StateMisconfigured
		st.LastError = &LastError{Error: f.misconfigured}
	}
	f.mu.Unlock()
	for _, s := range f.cfg.Steps {
		st.Steps = append(st.Steps, StepInfo{Name: s.Name, Kind: s.Kind})
	}
	c := &f.counts
	st.InFlight = c.inFlight.Load()
	st.Counters = Counters{
		Received: c.received.Load(), Delivered: c.delivered.Load(), Filtered: c.filtered.Load(),
		DeadLettered: c.deadLettered.Load(), Requeued: c.requeued.Load(), Retries: c.retries.Load(),
	}
	st.Rates = f.rates.perSecond()
	return st
}

// Logs returns up to limit recent message outcomes numbered above after (LogEntry.Seq;
// 0 for any), newest first.
func (f *Flow) Logs(limit int, after uint64) []LogEntry { return f.logs.last(limit, after) }

// rateWindow keeps a minute of once-a-second samples of a flow's counters.
type rateWindow struct {
	mu      sync.Mutex
	samples [61]rateSample
	n, next int
}

type rateSample struct {
	at                  time.Time
	received, delivered int64
}

func (w *rateWindow) sample(at time.Time, received, delivered int64) {
	w.mu.Lock()
	w.samples[w.next] = rateSample{at, received, delivered}
	w.next = (w.next + 1) % len(w.samples)
	w.n = min(w.n+1, len(w.samples))
	w.mu.Unlock()
}

func (w *rateWindow) perSecond() Rates {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n < 2 {
		return Rates{}
	}
	newest := w.samples[(w.next-1+len(w.samples))%len(w.samples)]
	oldest := w.samples[(w.next-w.n+len(w.samples))%len(w.samples)]
	secs := newest.at.Sub(oldest.at).Seconds()
	if secs <= 0 {
		return Rates{}
	}
	return Rates{
		ReceivedPerSecond:  float64(newest.received-oldest.received) / secs,
		DeliveredPerSecond: float64(newest.delivered-oldest.delivered) / secs,
	}
}
