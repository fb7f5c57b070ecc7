package main

import (
	"github.com/spf13/cobra"

	"github.com/junctionhq/junction/internal/app"
)

func newReportCommand() *cobra.Command {
	var (
		api apiClientOptions
		o   app.ReportOptions
	)
	cmd := &cobra.Command{
		Use:   "report [--from T] [--to T] [--integration NAME] [--step D] [--format table|csv|json]",
		Short: "Requests, errors, latency, availability and cost of integration calls over time",
		Long: `Show the usage report of a running server (GET /reports): per integration and
operation, per step and in total, the requests, errors and error rate, average, p50 and
p99 latency, availability against the declared slo, and cost.

Times are RFC 3339, "now", or a duration before now (-24h, -7d); the default is the last
24 hours in steps of 1h. The server rounds a --from relative to now down to a whole step
when the step is whole hours or divides an hour (-24h in 1h steps starts on an hour),
and a relative --to up to one. ` + serverHelp,
		Example: `  junction report
  junction report --from -7d --step 1d --integration Payments
  junction report --from 2026-01-01T00:00:00Z --to 2026-01-02T00:00:00Z --format csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := api.client()
			if err != nil {
				return err
			}
			return app.Report(cmd.Context(), c, o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	api.add(f)
	f.StringVar(&o.From, "from", "", "start: RFC 3339, now, or before now such as -24h (default -24h)")
	f.StringVar(&o.To, "to", "", "end: RFC 3339, now, or before now such as -1h (default now)")
	f.StringVar(&o.Step, "step", "", "step length, whole minutes such as 15m, 1h or 1d (default 1h)")
	f.StringVar(&o.Integration, "integration", "", "only this integration")
	f.StringVar(&o.Operation, "operation", "", "only this operation")
	f.StringVar(&o.Format, "format", "table", "output: table, csv or json")
	return cmd
}
