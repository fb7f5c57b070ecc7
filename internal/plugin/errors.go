package plugin

import (
	"errors"
	"fmt"
	"strings"

	"github.com/junctionhq/junction/internal/errkind"
)

// ErrNotFound means no plugin of that name is loaded.
var ErrNotFound = fmt.Errorf("plugin: %w", errkind.ErrNotFound)

// The kinds of a failed call.
const (
	KindError       = "error"       // the function returned an error
	KindTimeout     = "timeout"     // it ran past its time limit and was stopped
	KindMemory      = "memory"      // it ran out of its memory
	KindTrap        = "trap"        // the module crashed (a WebAssembly trap, a fatal error)
	KindUnavailable = "unavailable" // no instance could run it (not loaded, being replaced)
)

// CallError is a failed call of a plugin function. Only that call fails: the instance
// that ran it is thrown away when it may be damaged, and the next call gets another.
type CallError struct {
	Plugin, Function string
	Kind             string
	Msg              string
	// Permanent: the same input will fail again (the function said so with
	// pluginkit.Permanent); a flow sends the message to its dead letters at once.
	Permanent bool
}

func (e *CallError) Error() string {
	return fmt.Sprintf("plugin %s.%s: %s", e.Plugin, e.Function, e.Msg)
}

// IsPermanent reports whether err is a CallError the plugin marked permanent.
func IsPermanent(err error) bool {
	var ce *CallError
	return errors.As(err, &ce) && ce.Permanent
}

// sandboxHint explains an error a plugin's own code met trying to reach what its
// sandbox does not have, so that "Bad file number" reads as what it means.
func sandboxHint(msg string) string {
	switch {
	case strings.Contains(msg, "Bad file number") || strings.Contains(msg, "bad file descriptor"):
		return msg + " (a plugin has no file system)"
	case strings.Contains(msg, "dial ") || strings.Contains(msg, "connect: "):
		return msg + " (a plugin has no network of its own: it sends HTTP requests with pluginkit.Fetch to the hosts of its http capability)"
	}
	return msg
}
