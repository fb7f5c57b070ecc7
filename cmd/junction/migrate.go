package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/backend"
)

func newMigrateCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate up|status",
		Short: "Apply or list the storage migrations",
		Long: `Junction's storage schema is versioned; the migrations are built into the binary.
'junction serve' applies pending ones on start; these commands do it explicitly.

Storage is SQLite (file junction.db by default) or PostgreSQL when --database-url or
DATABASE_URL is postgres://….`,
	}
	up := &cobra.Command{
		Use:   "up",
		Short: "Apply every pending migration",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd, func(ctx context.Context, st store.Store) error {
				applied, err := st.MigrateUp(ctx)
				if err != nil {
					return err
				}
				for _, m := range applied {
					fmt.Fprintf(cmd.OutOrStdout(), "applied %05d %s\n", m.Version, m.Name)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: schema up to date (%d applied now)\n", backend.Describe(fromEnv(cmd, "database-url", "DATABASE_URL")), len(applied))
				return nil
			})
		},
	}
	status := &cobra.Command{
		Use:   "status",
		Short: "List every migration and when it was applied",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Status only reads: it must not create the database it reports on.
			if err := backend.RequireExisting(fromEnv(cmd, "database-url", "DATABASE_URL")); err != nil {
				return err
			}
			return withStore(cmd, func(ctx context.Context, st store.Store) error {
				ms, err := st.MigrateStatus(ctx)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "VERSION\tNAME\tAPPLIED")
				for _, m := range ms {
					applied := "pending"
					if m.AppliedAt != nil {
						applied = m.AppliedAt.UTC().Format(time.RFC3339)
					}
					fmt.Fprintf(tw, "%05d\t%s\t%s\n", m.Version, m.Name, applied)
				}
				return tw.Flush()
			})
		},
	}
	for _, c := range []*cobra.Command{up, status} {
		addDatabaseFlag(c)
		cmd.AddCommand(c)
	}
	return cmd
}

// withStore opens the storage named by --database-url / DATABASE_URL for one command.
func withStore(cmd *cobra.Command, fn func(context.Context, store.Store) error) error {
	ctx := cmd.Context()
	url := fromEnv(cmd, "database-url", "DATABASE_URL")
	st, err := backend.Open(ctx, url)
	if err != nil {
		return fmt.Errorf("open storage %s: %w", backend.Describe(url), err)
	}
	defer st.Close()
	return fn(ctx, st)
}
