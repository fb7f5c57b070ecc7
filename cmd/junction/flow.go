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
			return app.FlowStatus(cmd.Context(), client(), name, cmd.OutOrStdout())
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
			return app.FlowLogs(ctx, client(), args[0], limit, f, cmd.OutOrStdout())
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
	test.Flags().StringArrayVarP(&configs, "config", "c", nil, "configuration file; repeat for several (env JUNCTION_CONFIG, ':'-separated)")
	test.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "give up after this long")
	cmd.AddCommand(test)
	return cmd
}
