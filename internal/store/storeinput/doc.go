// Package storeinput holds the input checks and defaults both storage backends apply to
// the webhook, flow and token methods, so SQLite and PostgreSQL accept and normalise exactly the
// same values. Only backends import it.
package storeinput
