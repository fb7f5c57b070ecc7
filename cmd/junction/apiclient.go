package main

import (
	"cmp"
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/junctionhq/junction/internal/app"
)

// serverHelp ends the help of every command that talks to a running server.
const serverHelp = `The server is --server (env JUNCTION_URL, default http://127.0.0.1:8080) and the token
--token (env JUNCTION_TOKEN).`

// apiClientFlags gives cmd and its subcommands --server and --token, and returns the
// client they make.
func apiClientFlags(cmd *cobra.Command) func() app.APIClient {
	var server, token string
	cmd.PersistentFlags().StringVar(&server, "server", "", "Junction server URL, or HOST:PORT for http:// (env JUNCTION_URL)")
	cmd.PersistentFlags().StringVar(&token, "token", "", "API token (env JUNCTION_TOKEN)")
	return func() app.APIClient {
		return app.APIClient{
			BaseURL: cmp.Or(server, os.Getenv("JUNCTION_URL"), "http://"+app.AddrDefault),
			Token:   cmp.Or(token, os.Getenv("JUNCTION_TOKEN")),
		}
	}
}

// untilInterrupted is the context of a command that watches until Ctrl-C (or SIGTERM),
// after which it ends normally.
func untilInterrupted(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
}
