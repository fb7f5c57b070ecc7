package main

import (
	"github.com/spf13/cobra"

	"github.com/junctionhq/junction/internal/catalog/catalogdoc"
)

func newCatalogCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "List and show the catalog of ready integrations built into this binary",
		Long: `The catalog holds ready definitions of common APIs (GitHub, Stripe, S3, Slack, …), each
tested against a fake of its API. Use one in a configuration file with

  integration Payments from catalog "stripe" { … }

where your block overrides or completes the entry (auth, base_url, timeouts, …).
See docs/catalog.md.`,
		Args: cobra.NoArgs,
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the entries: name, description, operations, webhooks, environment they need",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return catalogdoc.List(cmd.OutOrStdout())
		},
	}
	show := &cobra.Command{
		Use:     "show NAME",
		Short:   "Print one entry: what it is, how to use it, its operations and its file",
		Example: "  junction catalog show stripe",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return catalogdoc.Show(cmd.OutOrStdout(), args[0])
		},
	}
	cmd.AddCommand(list, show)
	return cmd
}
