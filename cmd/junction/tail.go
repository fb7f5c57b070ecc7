package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/junctionhq/junction/internal/app"
)

// followEvery is how often --follow polls.
const followEvery = time.Second

func newTailCommand() *cobra.Command {
	var asJSON bool
	var client func() (app.APIClient, error)
	cmd := &cobra.Command{
		Use:   "tail [PATTERN]...",
		Short: "Print the events of a running server as they happen, until Ctrl-C",
		Long: `Print each event of a running Junction server as it happens, one line each: time, type,
source and data (long data cut; --json prints each event whole as a JSON line). With
patterns, only events whose type matches one: order.created, order.* or *.

Every event on the server's bus shows: events published with POST /events or by flows,
workflows and jobs, verified inbound webhooks, circuit changes, failed deliveries, and,
only while someone watches, one junction.flow.message per flow message and one
junction.webhook.delivery per delivery attempt.

The stream is live only: when the connection drops, tail connects again, but events
published while it was disconnected are not shown. A tail that reads too slowly is cut
off by the server and connects again the same way.

` + serverHelp,
		Example: `  junction tail
  junction tail 'order.*' 'junction.flow.*'
  junction tail --json 'junction.webhook.*' | jq .`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := untilInterrupted(cmd)
			defer stop()
			c, err := client()
			if err != nil {
				return err
			}
			return app.Tail(ctx, c, app.TailOptions{Patterns: args, JSON: asJSON, Notes: cmd.ErrOrStderr()}, cmd.OutOrStdout())
		},
	}
	client = apiClientFlags(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print each event as a JSON line {id,type,source,time,data}")
	return cmd
}
