package app

import (
	"log/slog"
	"strings"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/server"
)

// Integration statuses before the runtime exists (issue 3 replaces the source with live
// numbers). An integration whose secrets or base URL cannot be resolved from the
// environment is "misconfigured": it is listed, with the reason, and must never be called,
// so no request ever leaves with an empty secret. The rest of Junction keeps running:
// one missing variable should not take every other integration down with it.

type staticStatuses []server.IntegrationStatus

func (s staticStatuses) IntegrationStatuses() []server.IntegrationStatus { return s }

// Statuses derives each integration's status from the configuration and the environment,
// logging one warning per misconfigured integration.
func Statuses(cfg *config.Config, lookup config.LookupEnv, log *slog.Logger) server.IntegrationSource {
	out := make(staticStatuses, 0, len(cfg.Integrations))
	for _, in := range cfg.Integrations {
		st := server.IntegrationStatus{Name: in.Name, Type: string(in.Type), Status: server.StatusHealthy, CircuitState: "closed"}
		if problems := in.EnvProblems(lookup); len(problems) > 0 {
			reasons := make([]string, len(problems))
			for i, p := range problems {
				reasons[i] = p.Setting + ": " + p.Err.Error()
			}
			st.Status, st.Reason = server.StatusMisconfigured, strings.Join(reasons, "; ")
			log.Warn("integration disabled: configuration incomplete", "integration", in.Name, "reason", st.Reason, "at", in.Pos.String())
		}
		out = append(out, st)
	}
	return out
}
