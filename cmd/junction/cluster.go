package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/junctionhq/junction/internal/app"
)

func newClusterCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Show the nodes sharing a running server's database",
		Long: `Read the cluster of a running Junction server through its API: every ` + "`junction serve`" + `
process sharing its database.

` + serverHelp,
	}
	client := apiClientFlags(cmd)
	status := &cobra.Command{
		Use:   "status",
		Short: "Nodes: address, version, state, last heartbeat, configuration version, leases held",
		Long: `Print one line per node sharing the server's database: its id (* marks the node that
answered), address, version, state (up; down when it has not heartbeaten for longer than
the lease time to live; stopped after a clean stop), start time, last heartbeat, the
version of the configuration it runs ("differs" when it is not the others'), and the
leases it holds. Then which state each node keeps on its own and which is shared.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := client()
			if err != nil {
				return err
			}
			return app.ClusterStatus(cmd.Context(), c, time.Now(), cmd.OutOrStdout())
		},
	}
	cmd.AddCommand(status)
	return cmd
}
