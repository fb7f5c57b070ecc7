package storeinput

import (
	"slices"
	"time"

	"github.com/junctionhq/junction/internal/store"
)

// The endpoint circuit breaker and the claim's per-endpoint bound, computed in Go by
// both backends inside their transactions (the endpoint rows locked), so SQLite and
// PostgreSQL move a circuit exactly alike. store.AttemptRecord and store.ClaimParams
// document the rules.

// ApplyOutcome changes e by one attempt outcome r, as DeliveryRecord writes it.
func ApplyOutcome(e *store.Endpoint, r store.AttemptRecord) {
	at := store.NormalizeTime(r.At)
	if r.Success {
		e.LastDeliveryAt = &at
	} else {
		e.LastFailureAt = &at
	}
	if r.DisableEndpoint {
		e.IsActive, e.DisabledReason, e.UpdatedAt = false, r.DisabledReason, at
	}
	if r.CircuitGeneration != e.CircuitGeneration {
		return // started before the circuit last changed: says nothing about it now
	}
	switch {
	case e.CircuitOpenUntil == nil:
		if r.Success {
			e.ConsecutiveFailures = 0
			return
		}
		e.ConsecutiveFailures++
		count := e.ConsecutiveFailures
		if r.BreakerWindow > 0 {
			// Outcomes of several processes may arrive out of time order.
			e.RecentFailures = append(e.RecentFailures, at)
			slices.SortFunc(e.RecentFailures, time.Time.Compare)
			e.RecentFailures = inWindow(e.RecentFailures, at.Add(-r.BreakerWindow))
			count = len(e.RecentFailures)
		} else {
			e.RecentFailures = nil
		}
		if r.BreakerThreshold > 0 && count >= r.BreakerThreshold {
			openCircuit(e, at.Add(r.BreakerResetAfter))
		}
	case e.CircuitProbing:
		if r.Success {
			CloseCircuit(e)
			return
		}
		e.ConsecutiveFailures++
		openCircuit(e, at.Add(r.BreakerResetAfter))
	}
	// Open: an outcome of this generation can only come from a manual test; it neither
	// extends nor closes the circuit.
}

// inWindow drops the failures at or before cutoff: the window is (cutoff, at].
func inWindow(failures []time.Time, cutoff time.Time) []time.Time {
	i := 0
	for i < len(failures) && !failures[i].After(cutoff) {
		i++
	}
	return append([]time.Time(nil), failures[i:]...)
}

func openCircuit(e *store.Endpoint, until time.Time) {
	until = store.NormalizeTime(until)
	e.CircuitOpenUntil, e.CircuitProbing, e.IsHealthy, e.RecentFailures = &until, false, false, nil
	e.CircuitGeneration++
}

// CloseCircuit closes e's circuit: a new generation with nothing counted.
func CloseCircuit(e *store.Endpoint) {
	e.CircuitOpenUntil, e.CircuitProbing, e.IsHealthy, e.RecentFailures = nil, false, true, nil
	e.ConsecutiveFailures = 0
	e.CircuitGeneration++
}

// Probes is how many deliveries a half-open endpoint gets.
func Probes(p store.ClaimParams) int { return max(p.Probes, 1) }

// Budget is how many more deliveries of an endpoint a claim may take; -1 means no bound.
func Budget(p store.ClaimParams, endpointID string) int {
	if p.PerEndpoint <= 0 {
		return -1
	}
	return max(p.PerEndpoint-p.InFlight[endpointID], 0)
}

// Saturated lists the endpoints a claim must take nothing of: those the claimer has
// PerEndpoint deliveries of in flight. Never nil, so backends can pass it as a list.
func Saturated(p store.ClaimParams) []string {
	out := []string{}
	for id := range p.InFlight {
		if Budget(p, id) == 0 {
			out = append(out, id)
		}
	}
	return out
}

// ScanLimit is how many due deliveries a claim looks at to pick at most limit: with a
// per-endpoint bound some of them may be over their endpoint's budget.
func ScanLimit(p store.ClaimParams, limit int) int {
	if p.PerEndpoint <= 0 {
		return limit
	}
	return 2 * limit
}

// PickClaims chooses from candidates, given by their endpoint IDs in due order, at most
// limit, and of each endpoint at most its Budget. It returns their indexes, in order.
func PickClaims(p store.ClaimParams, limit int, endpoints []string) []int {
	var picked []int
	taken := map[string]int{}
	for i, ep := range endpoints {
		if len(picked) == limit {
			break
		}
		if b := Budget(p, ep); b >= 0 && taken[ep] >= b {
			continue
		}
		taken[ep]++
		picked = append(picked, i)
	}
	return picked
}
