package retry

import (
	"math"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/junctionhq/junction/internal/config"
)

// Backoff kinds accepted in Policy.Backoff.
const (
	BackoffExponential = string(config.BackoffExponential)
	BackoffConstant    = string(config.BackoffConstant)
)

// Defaults for the zero values of Policy's fields.
const (
	DefaultInitial    = 100 * time.Millisecond
	DefaultMultiplier = 2.0
	DefaultMax        = 30 * time.Second
	// DefaultJitter is the jitter FromConfig uses. It is not applied to a Policy whose
	// Jitter is 0, because 0 is how a caller asks for exact delays.
	DefaultJitter = 0.25
)

// Policy is how often and how long to wait before retrying one logical call.
type Policy struct {
	Attempts   int             // retries after the first attempt
	Backoff    string          // "exponential" (default) or "constant"
	Initial    time.Duration   // default 100ms
	Multiplier float64         // default 2
	Jitter     float64         // ± fraction of each exponential delay; 0 disables (FromConfig sets DefaultJitter); not applied to Delays
	Max        time.Duration   // cap on one delay; default 30s; not applied to Delays
	Delays     []time.Duration // explicit schedule; wins over Backoff
}

// FromConfig returns the policy a `retry` / `retry_delays` setting describes, with the
// default jitter. A nil r means no retries.
func FromConfig(r *config.Retry) Policy {
	if r == nil {
		return Policy{}
	}
	return Policy{
		Attempts:   r.Attempts,
		Backoff:    string(r.Backoff),
		Initial:    r.Initial,
		Multiplier: r.Multiplier,
		Jitter:     DefaultJitter,
		Max:        r.Max,
		Delays:     append([]time.Duration(nil), r.Delays...),
	}
}

// Schedule is the state of one logical call's retries (create one per call). It is not
// safe for concurrent use.
type Schedule struct {
	left     int
	delays   []time.Duration // explicit schedule, or nil
	next     int             // index into delays
	constant time.Duration   // constant backoff, when expo is nil and delays is nil
	expo     *backoff.ExponentialBackOff
	max      time.Duration
}

// Schedule starts the retry schedule of one call.
func (p Policy) Schedule() *Schedule {
	s := &Schedule{left: max(p.Attempts, 0)}
	if len(p.Delays) > 0 {
		s.delays = p.Delays
		if p.Attempts <= 0 {
			s.left = len(p.Delays)
		}
		return s
	}
	initial := p.Initial
	if initial <= 0 {
		initial = DefaultInitial
	}
	s.max = p.Max
	if s.max <= 0 {
		s.max = DefaultMax
	}
	if p.Backoff == BackoffConstant {
		s.constant = min(initial, s.max)
		return s
	}
	multiplier := p.Multiplier
	if multiplier <= 0 {
		multiplier = DefaultMultiplier
	}
	// A jitter of 1 or more could make a delay zero or negative; clamp it to a sane range.
	jitter := math.Min(math.Max(p.Jitter, 0), 1)
	s.expo = &backoff.ExponentialBackOff{
		InitialInterval:     initial,
		RandomizationFactor: jitter,
		Multiplier:          multiplier,
		MaxInterval:         s.max,
	}
	s.expo.Reset()
	return s
}

// Next returns the delay before the next retry; ok is false when no retries are left.
func (s *Schedule) Next() (delay time.Duration, ok bool) {
	if s.left <= 0 {
		return 0, false
	}
	s.left--
	switch {
	case s.delays != nil:
		d := s.delays[min(s.next, len(s.delays)-1)]
		s.next++
		return max(d, 0), true
	case s.expo != nil:
		// The library caps the interval before randomising it, so a jittered delay could
		// exceed MaxInterval by the jitter; Max is a promise about every single delay.
		return min(s.expo.NextBackOff(), s.max), true
	default:
		return s.constant, true
	}
}
