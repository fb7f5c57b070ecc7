package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/junctionhq/junction/internal/app"
)

func newFlowCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "flow",
		Short: "Show the flows of a running server",
		Long: `Read the flows of a running Junction server through its API.

` + serverHelp,
	}
	client := apiClientFlags(cmd)

	status := &cobra.Command{
		Use:   "status [NAME]",
		Short: "State, counters, rates and last error of one flow, or a table of all",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			c, err := client()
			if err != nil {
				return err
			}
			return app.FlowStatus(cmd.Context(), c, name, cmd.OutOrStdout())
		},
	}
	var limit int
	var follow bool
	logs := &cobra.Command{
		Use:   "logs NAME",
		Short: "Recent per-message outcomes of a flow (payloads only with logging { include_payload: true })",
		Long: `Print the recent per-message outcomes of a flow, oldest first: time, outcome, message
id, duration, and the sinks or the failed step and its error. The server keeps the
last 500 of each flow, in memory. With --follow, keep printing new outcomes as they
come (polling every second) until Ctrl-C.`,
		Example: `  junction flow logs order-sync -n 20
  junction flow logs order-sync -f`,
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
			return app.FlowLogs(ctx, c, args[0], limit, f, cmd.OutOrStdout())
		},
	}
	logs.Flags().IntVarP(&limit, "limit", "n", 50, "how many messages (at most 500)")
	logs.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new outcomes until Ctrl-C")
	cmd.AddCommand(status, logs)
	return cmd
}

func newConnectorCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "connector", Short: "Work with the connectors of a configuration"}
	var configs []string
	var timeout time.Duration
	test := &cobra.Command{
		Use:   "test NAME",
		Short: "Check that a connector can reach its system, and say why not",
		Long: `Connect to the system a connector names (broker, database, …) with its configured
settings, without a server, and report success or the reason for failure.
Exit status 1 when the check fails.`,
		Example: `  junction connector test -c examples/order-sync.cai orders`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			if !app.ConnectorTest(ctx, configPaths(cmd, configs), args[0], os.LookupEnv, cmd.OutOrStdout()) {
				return exitError{code: 1}
			}
			return nil
		},
	}
	var sets []string
	send := &cobra.Command{
		Use:   "send NAME [MESSAGE…]",
		Short: "Publish messages through a connector, e.g. a test order to a RabbitMQ exchange",
		Long: `Write messages through a connector used as a sink, with its configured settings and
no server: publish to a broker's exchange, topic, subject or stream, or insert a row.
--set adds the options a flow's sink would give (exchange, routing_key, topic, table, …),
over the connector block's. Each MESSAGE argument is one message; without any, every
non-empty line of standard input is one. A connector with a format (avro, protobuf, xml)
takes the messages as JSON and writes them in it. The command returns once the system accepted
them all (a confirmed publish, a committed insert); exit status 1 otherwise.`,
		Example: `  junction connector send -c examples/order-sync.cai orders \
      --set exchange=orders --set routing_key=order.created \
      '{"orderId":"o-1","customerId":"c-7","customerEmail":"a@example.com","orderItems":[{"sku":"s1","qty":2}],"orderTotal":1250}'
  jq -c '.[]' orders.json | junction connector send -c examples/order-sync.cai orders --set exchange=orders --set routing_key=order.created`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			return app.ConnectorSend(ctx, configPaths(cmd, configs), args[0], sets, args[1:], cmd.InOrStdin(), os.LookupEnv, cmd.OutOrStdout())
		},
	}
	send.Flags().StringArrayVar(&sets, "set", nil, "a sink option as key=value (repeatable), such as routing_key=order.created")
	for _, c := range []*cobra.Command{test, send} {
		c.Flags().StringArrayVarP(&configs, "config", "c", nil, "configuration file; repeat for several (env JUNCTION_CONFIG, ':'-separated)")
		c.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "give up after this long")
	}
	cmd.AddCommand(test, send)
	return cmd
}
