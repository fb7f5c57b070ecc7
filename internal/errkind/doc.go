// Package errkind names the few classes of failure that cross layers: a thing that does
// not exist, a thing that already exists, a dependency that cannot answer now. A layer
// marks its own errors with a class by wrapping it (store.ErrNotFound wraps
// errkind.ErrNotFound), so that a caller several layers up (the HTTP server's one error
// mapper) tells the class with errors.Is without importing the layer that raised it.
//
// A class carries no message for people: whoever raises the error says what failed; the
// class only says what kind of failure it was.
package errkind
