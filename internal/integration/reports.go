package integration

import (
	"time"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/report"
)

// usage is what the usage reports (package report) need of an operation, resolved once:
// its declared objective and price, the operation's own or else its integration's.
type usage struct {
	costPerCall float64 // per request that reaches the upstream
	objective   float64 // success rate as a fraction; 0 when none is declared
}

// newUsage resolves decl's settings over in's; decl is nil for the proxy.
func newUsage(in *config.Integration, decl *config.Operation) usage {
	slo, cost := in.SLO, in.Cost
	if decl != nil && decl.SLO != nil {
		slo = decl.SLO
	}
	if decl != nil && decl.Cost != nil {
		cost = decl.Cost
	}
	var u usage
	if slo != nil {
		u.objective = slo.SuccessRate
	}
	if cost != nil {
		u.costPerCall = cost.PerCall
	}
	return u
}

// report hands a finished call to the usage reports. Cost counts the requests that
// reached the upstream: each retry is one, a cache hit or a refused call is none.
func (s *observeStage) report(at time.Time, elapsed time.Duration, ok bool, sent int) {
	u := s.op.usage
	s.c.env.reports.Record(report.Call{
		Integration: s.c.name, Operation: s.op.name, At: at, Latency: elapsed, Failed: !ok,
		Upstream: sent, Cost: float64(sent) * u.costPerCall, Objective: u.objective,
	})
}
