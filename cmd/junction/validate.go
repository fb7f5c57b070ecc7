package main

import (
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/junctionhq/junction/internal/app"
)

func newValidateCommand() *cobra.Command {
	var each bool
	cmd := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check configuration files and summarise what they declare",
		Long: `Check configuration files (.cai, .yaml/.yml, .json) without starting anything; other
extensions are refused.

Every problem is printed as file:line:col: message, all of them in one run: a file with
errors still has its flows' steps and its workflows compiled. What Junction accepts but
does not run (CodeAI's entity, endpoint, … blocks and the workflows and jobs of its
generated application; publish_to kafka targets, not run yet by this version) is one
warning per kind; environment variables that are referenced but unset are warnings.
References to undeclared names are errors.

Several files are checked as one combined configuration, the way serve loads them:
names must be unique across them and a reference may point into another file. Each file
gets a line "ok by itself", and the set a last line "(as one configuration): ok". With
--each, every file is checked alone, as a configuration of its own.

The exit status is 1 when any file has an error, 0 otherwise. With no FILE, the files
of JUNCTION_CONFIG are checked.`,
		Example: "  junction validate examples/quickstart.cai\n  junction validate integrations.yaml events.cai\n  junction validate --each examples/*.cai",
		RunE: func(cmd *cobra.Command, args []string) error {
			paths := configPaths(cmd, args)
			if len(paths) == 0 {
				return errors.New("validate: no files given (and JUNCTION_CONFIG is empty)")
			}
			check := app.Validate
			if each {
				check = app.ValidateEach
			}
			if !check(cmd.OutOrStdout(), paths, os.LookupEnv) {
				return exitError{code: 1}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&each, "each", false, "check every file alone instead of all of them as one configuration")
	return cmd
}
