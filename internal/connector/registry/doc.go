// Package registry lists every connector type a configuration can name. It is an
// explicit table, not self-registration, so what a binary supports is visible in one place.
package registry
