package main

import (
	"github.com/spf13/cobra"

	"github.com/junctionhq/junction/internal/app"
)

func newPluginCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plugin",
		Short: "Register, list and remove WebAssembly plugins on a running server",
		Long: `Manage the WebAssembly plugins of a running Junction server: those registered here are
kept in its database and loaded by every node; those a configuration declares
(plugin NAME { path: … }) are listed too. Build a plugin with the plugin kit:
GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o NAME.wasm . (see docs/plugins.md).

` + serverHelp,
	}
	client := apiClientFlags(cmd)

	var manifest string
	register := &cobra.Command{
		Use:     "register FILE.wasm --manifest manifest.json",
		Short:   "Register a plugin (admin): the module and its manifest; replaces one of the same name",
		Example: `  junction plugin register orders.wasm --manifest examples/plugins/transform/manifest.json`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client()
			if err != nil {
				return err
			}
			return app.PluginRegister(cmd.Context(), c, args[0], manifest, cmd.OutOrStdout())
		},
	}
	register.Flags().StringVar(&manifest, "manifest", "", "the plugin's manifest (JSON): name, version, functions, capabilities, limits")
	unregister := &cobra.Command{
		Use:   "unregister NAME",
		Short: "Remove a registered plugin (admin) from every node",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client()
			if err != nil {
				return err
			}
			return app.PluginUnregister(cmd.Context(), c, args[0], cmd.OutOrStdout())
		},
	}
	get := &cobra.Command{
		Use:   "get NAME",
		Short: "A plugin's manifest and state, as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client()
			if err != nil {
				return err
			}
			return app.PluginGet(cmd.Context(), c, args[0], cmd.OutOrStdout())
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "The server's plugins: version, source, state, functions, calls, errors, mean µs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := client()
			if err != nil {
				return err
			}
			return app.PluginList(cmd.Context(), c, cmd.OutOrStdout())
		},
	}
	status := &cobra.Command{
		Use:   "status NAME",
		Short: "One plugin: loaded or why not, calls, errors and mean time per call on the node answering",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client()
			if err != nil {
				return err
			}
			return app.PluginStatus(cmd.Context(), c, args[0], cmd.OutOrStdout())
		},
	}
	cmd.AddCommand(register, unregister, get, list, status)
	return cmd
}
