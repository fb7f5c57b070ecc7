// Package config reads Junction's configuration: the declarative language of seed 003
// (files *.cai and *.codeai, in both its `key: value` and colon-less dialects) and the
// same content as YAML or JSON, into one typed model (Config).
//
// Reading goes lexer → parser → syntax tree with positions → decoder → model. The YAML and
// JSON forms are adapters onto the same syntax tree, so all formats share one decoder and
// every message names file:line:col and what was expected. Secrets are never read into
// the model: settings that reference env(NAME), "$NAME" or file(PATH) keep the reference,
// and Value.Resolve looks it up at start-up. This package imports nothing of the runtime.
package config
