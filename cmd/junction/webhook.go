package main

import (
	"github.com/spf13/cobra"

	"github.com/junctionhq/junction/internal/app"
)

func newWebhookCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "webhook",
		Short: "See the webhook endpoints of a running server and their deliveries",
		Long: `Read the webhook endpoints of a running Junction server and follow their deliveries.

` + serverHelp,
	}
	client := apiClientFlags(cmd)

	list := &cobra.Command{
		Use:   "list",
		Short: "Every webhook endpoint: id, name, URL, events, state, circuit and failures in a row",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := client()
			if err != nil {
				return err
			}
			return app.WebhookList(cmd.Context(), c, cmd.OutOrStdout())
		},
	}

	var o app.DeliveriesOptions
	var follow bool
	deliveries := &cobra.Command{
		Use:   "deliveries ENDPOINT_ID",
		Short: "An endpoint's newest deliveries, newest last; --follow prints attempts as they happen",
		Long: `Print an endpoint's newest deliveries, newest last, one line each as of its last
attempt: time, delivery id, event type, status, attempt count, the receiver's HTTP
status, duration and error, and when the next attempt is due.

With --follow, keep watching until Ctrl-C: every second the newest 100 deliveries are
read again, and a delivery is printed again each time it has made another attempt or
changed status, a new one when it appears. Several attempts of one delivery within a
second show as its latest; 'junction tail junction.webhook.delivery' shows every one.`,
		Example: `  junction webhook deliveries 0b6f… --status failed
  junction webhook deliveries 0b6f… -f`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := untilInterrupted(cmd)
			defer stop()
			f := app.Follow{Notes: cmd.ErrOrStderr()}
			if follow {
				f.Every = followEvery
			}
			c, err := client()
			if err != nil {
				return err
			}
			return app.WebhookDeliveries(ctx, c, args[0], o, f, cmd.OutOrStdout())
		},
	}
	deliveries.Flags().StringVar(&o.Status, "status", "", "only deliveries with this status: pending, retrying, delivered or failed")
	deliveries.Flags().IntVarP(&o.Limit, "limit", "n", 20, "how many of the newest (at most 100)")
	deliveries.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new deliveries and attempts until Ctrl-C")
	cmd.AddCommand(list, deliveries)
	return cmd
}
