package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/junctionhq/junction/internal/app"
)

func newWorkflowCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "workflow",
		Short: "Run workflows and see their runs on a running server",
		Long: `Start runs of the declared workflows of a running Junction server, and read them.

` + serverHelp,
	}
	client := apiClientFlags(cmd)

	var timeout time.Duration
	run := &cobra.Command{
		Use:   "run NAME [key=value | key:=JSON]...",
		Short: "Start a run with the arguments as its input, wait for it and print its result",
		Long: `Start a run of the workflow NAME with the arguments as its input (key=value gives a
string, key:=JSON any JSON value), wait for it to end (at most --timeout) and print
each step and the run's output. Exit status 1 when the run failed or was cancelled.`,
		Example: `  junction workflow run verified_payment sender_did=did:web:alice.example amount:=0.25`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client()
			if err != nil {
				return err
			}
			ok, err := app.WorkflowRun(cmd.Context(), c, args[0], args[1:], timeout, cmd.OutOrStdout())
			if err != nil {
				return err
			}
			if !ok {
				return exitError{code: 1}
			}
			return nil
		},
	}
	run.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "how long to wait for the run to end")
	status := &cobra.Command{
		Use:   "status [RUN]",
		Short: "A run with each of its steps, or a table of the declared workflows and their runs",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := ""
			if len(args) == 1 {
				id = args[0]
			}
			c, err := client()
			if err != nil {
				return err
			}
			return app.WorkflowStatus(cmd.Context(), c, id, cmd.OutOrStdout())
		},
	}
	cmd.AddCommand(run, status)
	return cmd
}
