package server

import (
	"cmp"
	"net/http"
	"slices"
	"time"
)

// Integration health states reported in IntegrationStatus.Status.
const (
	StatusHealthy       = "healthy"
	StatusDegraded      = "degraded"
	StatusDown          = "down"
	StatusMisconfigured = "misconfigured"
)

// IntegrationStatus is the health of one configured integration as the API reports it.
type IntegrationStatus struct {
	Name          string     `json:"name"`
	Type          string     `json:"type"`
	Status        string     `json:"status"` // healthy, degraded, down or misconfigured
	CircuitState  string     `json:"circuit_state"`
	ErrorRate     float64    `json:"error_rate"`
	LastSuccessAt *time.Time `json:"last_success_at"`
	LastFailureAt *time.Time `json:"last_failure_at"`
	Reason        string     `json:"reason,omitempty"`
}

// IntegrationSource reports the current status of every integration. It is called on
// each GET /integrations/status, concurrently, so it must be safe for concurrent use and
// cheap (a snapshot, not a round of health checks).
type IntegrationSource interface {
	IntegrationStatuses() []IntegrationStatus
}

// integrationStatus answers GET /integrations/status.
func (s *Server) integrationStatus(w http.ResponseWriter, r *http.Request) {
	// Always a list, never null: clients iterate without a nil check.
	list := []IntegrationStatus{}
	if src := s.integrationSource(); src != nil {
		// Copy before sorting: the slice belongs to the source.
		list = append(list, src.IntegrationStatuses()...)
	}
	// A stable order makes the output diffable and pages reproducible.
	slices.SortStableFunc(list, func(a, b IntegrationStatus) int { return cmp.Compare(a.Name, b.Name) })
	s.writeJSON(w, r, http.StatusOK, map[string]any{"integrations": list})
}
