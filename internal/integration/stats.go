package integration

import (
	"sort"
	"sync"
	"time"
)

// Health numbers are computed over a sliding window of recent calls: the last
// statsWindow, and at most statsMaxSamples calls, whichever is fewer.
const (
	statsWindow     = 5 * time.Minute
	statsMaxSamples = 10_000
	// statsMinCalls is how many calls the window must hold before a success rate
	// can make an integration degraded or down: two failures out of two is not a trend.
	statsMinCalls = 5
)

// The status rules, documented in the README:
//
//	misconfigured  its secrets or base URL are not resolvable; never called
//	down           circuit open, or success rate below 50 % over the window
//	degraded       circuit half-open, success rate below 95 %, or responses that no
//	               longer match the declared `returns` shape within the window
//	healthy        otherwise (also when there were no calls yet)
const (
	downBelow     = 0.50
	degradedBelow = 0.95
)

type sample struct {
	at       time.Time
	latency  time.Duration
	ok       bool
	mismatch bool
}

// stats keeps the recent calls of one integration.
type stats struct {
	mu           sync.Mutex
	ring         []sample
	next         int
	full         bool
	lastSuccess  time.Time
	lastFailure  time.Time
	lastError    string
	lastMismatch string
}

func newStats() *stats { return &stats{ring: make([]sample, statsMaxSamples)} }

func (s *stats) record(at time.Time, latency time.Duration, ok bool, errText string, mismatches []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ring[s.next] = sample{at: at, latency: latency, ok: ok, mismatch: len(mismatches) > 0}
	s.next = (s.next + 1) % len(s.ring)
	s.full = s.full || s.next == 0
	if ok {
		s.lastSuccess = at
	} else {
		s.lastFailure, s.lastError = at, errText
	}
	if len(mismatches) > 0 {
		s.lastMismatch = mismatches[0]
	}
}

// snapshot summarises the window ending at now.
type snapshot struct {
	Calls, Failures, Mismatches int
	P50, P99                    time.Duration
	SuccessRate                 float64 // 1 when there were no calls
	LastSuccess, LastFailure    time.Time
	LastError, LastMismatch     string
}

func (s *stats) snapshot(now time.Time) snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := snapshot{LastSuccess: s.lastSuccess, LastFailure: s.lastFailure, LastError: s.lastError, LastMismatch: s.lastMismatch, SuccessRate: 1}
	n := s.next
	if s.full {
		n = len(s.ring)
	}
	latencies := make([]time.Duration, 0, n)
	since := now.Add(-statsWindow)
	for i := range n {
		sm := s.ring[i]
		if sm.at.Before(since) {
			continue
		}
		latencies = append(latencies, sm.latency)
		if !sm.ok {
			out.Failures++
		}
		if sm.mismatch {
			out.Mismatches++
		}
	}
	out.Calls = len(latencies)
	if out.Calls > 0 {
		out.SuccessRate = float64(out.Calls-out.Failures) / float64(out.Calls)
		sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
		out.P50 = percentile(latencies, 0.50)
		out.P99 = percentile(latencies, 0.99)
	}
	return out
}

// percentile uses the nearest-rank method on sorted values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(p*float64(len(sorted))+0.999999) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return sorted[rank]
}

// status applies the rules above.
func status(misconfigured bool, circuit string, snap snapshot) string {
	switch {
	case misconfigured:
		return "misconfigured"
	case circuit == "open", snap.Calls >= statsMinCalls && snap.SuccessRate < downBelow:
		return "down"
	case circuit == "half-open", snap.Calls >= statsMinCalls && snap.SuccessRate < degradedBelow, snap.Mismatches > 0:
		return "degraded"
	}
	return "healthy"
}
