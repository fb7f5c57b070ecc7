package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version and commit are stamped by scripts/build:
//
//	go build -ldflags "-X main.version=v1.2.3 -X main.commit=0123abc…"
//
// Without stamping, versionText falls back to what the Go toolchain recorded: the module
// version of a `go install …@v1.2.3`, and the VCS revision of a build in a git checkout.
var (
	version = "dev"
	commit  = ""
)

// noCommit is the commit line of a binary that knows neither: built with
// -buildvcs=false, outside a git checkout, or from a module download.
const noCommit = "commit unknown (not recorded in this build; scripts/build stamps it)"

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and the commit of this binary",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprint(cmd.OutOrStdout(), versionText())
		},
	}
}

// versionText is what `junction version` and `junction --version` print: the version,
// toolchain and platform on the first line, the commit the binary was built from on the
// second ("(modified)" when the work tree had uncommitted changes). A stamped commit
// wins over the recorded one: scripts/build adds "(modified)" to it itself.
func versionText() string {
	line := noCommit
	if commit != "" {
		line = "commit " + commit
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		if rev, modified := vcsSettings(info); commit == "" && rev != "" {
			line = "commit " + rev + modified
		}
	}
	return fmt.Sprintf("junction %s (%s, %s/%s)\n%s\n", versionName(), runtime.Version(), runtime.GOOS, runtime.GOARCH, line)
}

// versionName is the stamped version, else the module version the toolchain recorded,
// else "dev".
func versionName() string {
	if info, ok := debug.ReadBuildInfo(); ok && version == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return version
}

// vcsSettings returns the revision the toolchain recorded and " (modified)" when the work
// tree had uncommitted changes, else "".
func vcsSettings(info *debug.BuildInfo) (rev, modified string) {
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = " (modified)"
			}
		}
	}
	return rev, modified
}
