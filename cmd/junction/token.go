package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/junctionhq/junction/internal/auth"
	"github.com/junctionhq/junction/internal/store"
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
			r := store.Role(role)
			if !r.Valid() {
				return fmt.Errorf("--role: expected admin or user, found %q", role)
			}
			return withMigratedStore(cmd, func(ctx context.Context, st store.Store) error {
				secret, _, err := auth.Issue(ctx, st, r, name, time.Now())
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), secret)
				return nil
			})
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
			return withMigratedStore(cmd, func(ctx context.Context, st store.Store) error {
				toks, err := st.TokenList(ctx)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tROLE\tNAME\tCREATED\tREVOKED")
				for _, t := range toks {
					revoked := "-"
					if t.RevokedAt != nil {
						revoked = t.RevokedAt.UTC().Format(time.RFC3339)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.ID, t.Role, dash(t.Name), t.CreatedAt.UTC().Format(time.RFC3339), revoked)
				}
				return tw.Flush()
			})
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token by its ID (see 'junction token list')",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withMigratedStore(cmd, func(ctx context.Context, st store.Store) error {
				err := st.TokenRevoke(ctx, args[0], time.Now())
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("no token has ID %q (see 'junction token list')", args[0])
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "revoked %s\n", args[0])
				return nil
			})
		},
	}
	for _, c := range []*cobra.Command{create, list, revoke} {
		addDatabaseFlag(c)
		cmd.AddCommand(c)
	}
	return cmd
}

// withMigratedStore is withStore after applying pending migrations, so token commands
// work on a fresh database before the first 'serve'.
func withMigratedStore(cmd *cobra.Command, fn func(context.Context, store.Store) error) error {
	return withStore(cmd, func(ctx context.Context, st store.Store) error {
		if _, err := st.MigrateUp(ctx); err != nil {
			return fmt.Errorf("migrate storage: %w", err)
		}
		return fn(ctx, st)
	})
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
