package app

import (
	"log/slog"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/registry"
	"github.com/junctionhq/junction/internal/flow"
)

// flowOptions are the engine's options in a tool (`validate`), where nothing runs: no
// bridge to the rest of Junction, no dead-letter store, no metrics.
func flowOptions(lookup config.LookupEnv, log *slog.Logger, bridge connector.Internal, st flow.DeadLetterStore, m *flow.Metrics) flow.Options {
	return flow.Options{
		Kinds:       registry.Kinds(),
		Env:         connector.Env{LookupEnv: lookup, Logger: log, Clock: clock.Real{}, Internal: bridge},
		DeadLetters: st,
		Metrics:     m,
	}
}
