package server

import "time"

// Integration health states reported in IntegrationStatus.Status.
const (
	StatusHealthy       = "healthy"
	StatusDegraded      = "degraded"
	StatusDown          = "down"
	StatusMisconfigured = "misconfigured"
)

// IntegrationStatus is one row of GET /integrations/status, as seed 003 defines it (and
// the reason, when an integration is misconfigured).
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
