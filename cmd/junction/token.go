package main

import (
	"github.com/spf13/cobra"

	"github.com/junctionhq/junction/internal/app"
)

func newTokenCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token create|list|revoke",
		Short: "Manage API tokens",
		Long: `API tokens authenticate every request to Junction's API except /healthz, /readyz and
/metrics ('Authorization: Bearer <token>'). A token has a role: admin (everything) or user
(everything except administration). Only a hash of each token is stored.`,
	}
	var role, name string
	create := &cobra.Command{
		Use:   "create --role admin|user [--name NAME]",
		Short: "Create a token and print it (once, alone on stdout)",
		Example: `  TOKEN=$(junction token create --role user --name ci)
  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/integrations/status`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return app.TokenCreate(cmd.Context(), tokenOptions(cmd), role, name)
		},
	}
	create.Flags().StringVar(&role, "role", "", "the token's role: admin or user (required)")
	create.Flags().StringVar(&name, "name", "", "optional: a note saying who or what the token is for (token list shows \"-\" without one)")
	_ = create.MarkFlagRequired("role")

	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return app.TokenList(cmd.Context(), tokenOptions(cmd))
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token by its ID (see 'junction token list')",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.TokenRevoke(cmd.Context(), tokenOptions(cmd), args[0])
		},
	}
	for _, c := range []*cobra.Command{create, list, revoke} {
		addDatabaseFlag(c)
		cmd.AddCommand(c)
	}
	return cmd
}

// tokenOptions are the token commands' options from their flags and environment.
func tokenOptions(cmd *cobra.Command) app.TokenOptions {
	return app.TokenOptions{DatabaseURL: fromEnv(cmd, "database-url", "DATABASE_URL"), Stdout: cmd.OutOrStdout()}
}
