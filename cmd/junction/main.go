// Command junction is the Junction integration platform: one binary that serves the API,
// validates configuration, migrates storage and manages API tokens.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/junctionhq/junction/internal/tlsfiles"
)

// exitError carries an exit status without another message (the command printed its own).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func main() {
	root := newRootCommand()
	if err := root.Execute(); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "junction:", err)
		os.Exit(1)
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "junction",
		Short: "Junction: resilient integrations, webhooks and data flows in one binary",
		Long: `Junction sits between your services and everything outside them: it calls third-party
APIs with declared resilience policies, delivers and receives webhooks, and shows the
health of it all.

Process settings come from flags or, when a flag is not given, from the environment:
  JUNCTION_CONFIG   configuration files (.cai, .codeai, .yaml, .json), separated by ':'
  DATABASE_URL      storage: postgres://… for PostgreSQL; otherwise SQLite (default junction.db)
  REDIS_URL         redis://… shared rate limits and cache (optional)
  JUNCTION_ADDR     listen address of 'junction serve' (default 127.0.0.1:8080)
  JUNCTION_TLS_CERT, JUNCTION_TLS_KEY, JUNCTION_TLS_CLIENT_CA
                    'junction serve' over HTTPS, and client certificates`,
		Version:       versionText(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("{{.Version}}") // the same text as 'junction version'
	root.AddCommand(newServeCommand(), newValidateCommand(), newCallCommand(), newMigrateCommand(), newTokenCommand(), newFlowCommand(), newWorkflowCommand(), newWebhookCommand(), newTailCommand(), newConnectorCommand(), newReportCommand(), newClusterCommand(), newCatalogCommand(), newPluginCommand(), newVersionCommand())
	return root
}

// fromEnv returns the flag's value when it was given, else the environment variable's.
func fromEnv(cmd *cobra.Command, flag, env string) string {
	if f := cmd.Flags().Lookup(flag); f != nil && f.Changed {
		return f.Value.String()
	}
	return os.Getenv(env)
}

// configPaths returns the -c files, or those listed in JUNCTION_CONFIG.
func configPaths(cmd *cobra.Command, flagged []string) []string {
	if len(flagged) > 0 {
		return flagged
	}
	var out []string
	for _, p := range filepath.SplitList(os.Getenv("JUNCTION_CONFIG")) {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// addRedisFlags adds --redis-url and the files of its TLS.
func addRedisFlags(cmd *cobra.Command, use string) {
	f := cmd.Flags()
	f.String("redis-url", "", "Redis URL for "+use+" (env REDIS_URL); rediss:// for TLS")
	f.String("redis-ca", "", "PEM CA certificates a rediss:// REDIS_URL's server must chain to (env JUNCTION_REDIS_CA; default the system's)")
	f.String("redis-cert", "", "PEM client certificate for a rediss:// REDIS_URL (env JUNCTION_REDIS_CERT)")
	f.String("redis-key", "", "the PEM private key of --redis-cert (env JUNCTION_REDIS_KEY)")
}

// redisTLS reads the flags addRedisFlags added.
func redisTLS(cmd *cobra.Command) tlsfiles.Client {
	return tlsfiles.Client{
		CA:   fromEnv(cmd, "redis-ca", "JUNCTION_REDIS_CA"),
		Cert: fromEnv(cmd, "redis-cert", "JUNCTION_REDIS_CERT"),
		Key:  fromEnv(cmd, "redis-key", "JUNCTION_REDIS_KEY"),
	}
}

func addDatabaseFlag(cmd *cobra.Command) {
	cmd.Flags().String("database-url", "", "storage URL: postgres://… or a SQLite file path (env DATABASE_URL; default junction.db)")
}
