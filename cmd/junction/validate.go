package main

import (
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/junctionhq/junction/internal/app"
)

func newValidateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check configuration files and summarise what they declare",
		Long: `Check configuration files (.cai/.codeai, .yaml/.yml, .json) without starting anything.

Every problem is printed as file:line:col: message. What Junction accepts but does not
run (CodeAI's entity, endpoint, … blocks and the workflows and jobs of its generated
application; publish_to kafka targets, not run yet by this version) is one warning per kind; environment variables that are
referenced but unset are warnings. References to undeclared names are errors. Each file ends with one summary line. The exit status is
1 when any file has an error, 0 otherwise. With no FILE, the files of JUNCTION_CONFIG are
checked.`,
		Example: "  junction validate examples/quickstart.cai\n  junction validate integrations.yaml events.cai",
		RunE: func(cmd *cobra.Command, args []string) error {
			paths := configPaths(cmd, args)
			if len(paths) == 0 {
				return errors.New("validate: no files given (and JUNCTION_CONFIG is empty)")
			}
			if !app.Validate(cmd.OutOrStdout(), paths, os.LookupEnv) {
				return exitError{code: 1}
			}
			return nil
		},
	}
}
