// Package catalog holds Junction's catalog of ready integrations: one file per entry,
// written in Junction's own configuration language and embedded in the binary. An entry
// declares `integration NAME { … }` (and may declare `source NAME { … }` for the
// provider's webhooks); a configuration uses it as `integration Stripe from catalog
// "stripe" { auth: … }`, where its own block overrides or completes the entry
// (config/catalog.go). This package only stores the entries: decoding them is the config
// package's job, listing and documenting them catalogdoc's.
package catalog
