package errkind

import "errors"

// The classes. Wrap one (fmt.Errorf("store: %w", errkind.ErrNotFound)) to mark an error.
var (
	// ErrNotFound: the addressed thing does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a thing with the same unique key already exists.
	ErrConflict = errors.New("conflict")
	// ErrUnavailable: a dependency failed rather than the request (it did not answer in
	// time, refused, or could not do the work now); the same request may well succeed
	// later.
	ErrUnavailable = errors.New("unavailable")
)
