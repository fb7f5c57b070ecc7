package retry

import (
	"math"
	"slices"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/junctionhq/junction/internal/config"
)

// Backoff kinds accepted in Policy.Backoff.
const (
	BackoffExponential = string(config.BackoffExponential)
	BackoffConstant    = string(config.BackoffConstant)
	BackoffLinear      = string(config.BackoffLinear)
)

// Fallbacks for the zero values of Policy's fields: a Policy built by hand, without one
// of the defaults of a use below, waits like an integration call.
const (
	DefaultInitial    = 100 * time.Millisecond
	DefaultMultiplier = 2.0
	DefaultMax        = 30 * time.Second
	// DefaultJitter is the jitter every use applies to exponential delays. It is not
	// applied to a Policy whose Jitter is 0, because 0 is how a caller asks for exact
	// delays.
	DefaultJitter = 0.25
)

// deliverySchedule is seed 003's schedule of webhook deliveries: retries after 1 m, 5 m,
// 30 m, 2 h and 8 h.
var deliverySchedule = []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 8 * time.Hour}

// The defaults of each use of a retry, in one table (the README's "Retry" table shows
// the same). What a configuration writes replaces the field it names (see With); the
// rest comes from here. They differ where the uses do: a call has a caller waiting, a
// webhook delivery waits in the store for a receiver to come back, a flow holds a
// message of a broker that should not be dead-lettered by a short outage.

// CallDefaults are an integration call's: no retries unless `retry` says so; an
// exponential back-off from 100 ms, doubling, capped at 30 s, ±25 %.
func CallDefaults() Policy {
	return Policy{Backoff: BackoffExponential, Initial: DefaultInitial, Multiplier: DefaultMultiplier, Max: DefaultMax, Jitter: DefaultJitter}
}

// DeliveryDefaults are a webhook delivery's: 5 retries after 1 m, 5 m, 30 m, 2 h and 8 h.
// A `retry` without `retry_delays` backs off exponentially from the schedule's first
// delay, doubling, capped at its last.
func DeliveryDefaults() Policy {
	return Policy{
		Attempts: len(deliverySchedule), Delays: slices.Clone(deliverySchedule),
		Backoff: BackoffExponential, Initial: deliverySchedule[0], Multiplier: DefaultMultiplier,
		Max: deliverySchedule[len(deliverySchedule)-1], Jitter: DefaultJitter,
	}
}

// FlowDefaults are a flow step's or sink's: 3 retries, about 1 s, 2 s and 4 s apart
// (doubling, capped at 30 s, ±25 %), so that a database restart or a deploy of the
// enriching service does not send every message in flight to the dead-letter queue.
func FlowDefaults() Policy {
	return Policy{Attempts: 3, Backoff: BackoffExponential, Initial: time.Second, Multiplier: DefaultMultiplier, Max: DefaultMax, Jitter: DefaultJitter}
}

// JobDefaults are a scheduled job's: no retries unless `retry` says so (the next tick
// comes anyway); an exponential back-off from 1 s, doubling, capped at 30 s, ±25 %.
func JobDefaults() Policy {
	return Policy{Backoff: BackoffExponential, Initial: time.Second, Multiplier: DefaultMultiplier, Max: DefaultMax, Jitter: DefaultJitter}
}

// Policy is how often and how long to wait before retrying one logical call.
type Policy struct {
	Attempts   int             // retries after the first attempt
	Backoff    string          // "exponential" (default), "constant" or "linear"
	Initial    time.Duration   // default 100ms
	Multiplier float64         // default 2
	Jitter     float64         // ± fraction of each exponential delay; 0 disables; not applied to Delays
	Max        time.Duration   // cap on one delay; default 30s; not applied to Delays
	Delays     []time.Duration // explicit schedule; wins over Backoff
}

// With returns the policy r describes on top of p, the defaults of a use: the number of
// retries and the schedule are r's, and each back-off setting r leaves out is p's. A
// written retry replaces p's explicit schedule (r's retry_delays, if any, take its
// place). A nil r is p itself: nothing was written.
func (p Policy) With(r *config.Retry) Policy {
	p.Delays = slices.Clone(p.Delays)
	if r == nil {
		return p
	}
	p.Attempts = r.Attempts
	if r.Backoff != "" {
		p.Backoff = string(r.Backoff)
	}
	if r.Initial > 0 {
		p.Initial = r.Initial
	}
	if r.Multiplier > 0 {
		p.Multiplier = r.Multiplier
	}
	if r.Max > 0 {
		p.Max = r.Max
	}
	p.Delays = slices.Clone(r.Delays)
	return p
}

// FromConfig returns the policy of an integration's `retry` / `retry_delays`:
// CallDefaults().With(r). A nil r means no retries.
func FromConfig(r *config.Retry) Policy {
	return CallDefaults().With(r)
}

// Retries is how many retries p allows after the first attempt: Attempts, or one per
// explicit delay when Attempts is 0.
func (p Policy) Retries() int {
	if len(p.Delays) > 0 && p.Attempts <= 0 {
		return len(p.Delays)
	}
	return max(p.Attempts, 0)
}

// DelayBefore is the wait before attempt number n (2 for the first retry), for retries
// that are not made by Do but stored for later, such as webhook deliveries: the same
// schedule Do would follow. It is 0 for n < 2, and the last retry's delay when n is past
// the retries p allows.
func (p Policy) DelayBefore(n int) time.Duration {
	s := p.Schedule()
	var d time.Duration
	for range n - 1 {
		next, ok := s.Next()
		if !ok {
			break
		}
		d = next
	}
	return d
}

// Schedule is the state of one logical call's retries (create one per call). It is not
// safe for concurrent use.
type Schedule struct {
	left     int
	delays   []time.Duration // explicit schedule, or nil
	next     int             // index into delays
	constant time.Duration   // constant backoff, when expo is nil and delays is nil
	step     time.Duration   // linear backoff: the delay grows by step each retry
	retries  int             // retries made, for the linear back-off
	expo     *backoff.ExponentialBackOff
	max      time.Duration
}

// Schedule starts the retry schedule of one call.
func (p Policy) Schedule() *Schedule {
	s := &Schedule{left: p.Retries()}
	if len(p.Delays) > 0 {
		s.delays = p.Delays
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
	switch p.Backoff {
	case BackoffConstant:
		s.constant = min(initial, s.max)
		return s
	case BackoffLinear:
		s.step = initial
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
	case s.step > 0:
		s.retries++
		return linearDelay(s.step, s.retries, s.max), true
	default:
		return s.constant, true
	}
}

// linearDelay is the delay before retry n of a linear back-off: n × step, capped at max
// (computed without overflowing when n × step would pass it).
func linearDelay(step time.Duration, n int, limit time.Duration) time.Duration {
	if time.Duration(n) > limit/step {
		return limit
	}
	return min(step*time.Duration(n), limit)
}
