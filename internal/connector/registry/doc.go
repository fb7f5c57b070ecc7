// Package registry lists every connector type a configuration can name. It is an
// explicit table, not self-registration, so what a binary supports is visible in one
// place. From that list it validates declared connectors (Validate) and writes the
// reference docs/connectors.md (Reference, through `go generate`).
package registry
