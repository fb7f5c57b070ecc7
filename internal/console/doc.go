// Package console holds the operating console's page, script and styles, embedded in the
// binary (no CDN, no Node toolchain): a single page that works over Junction's own HTTP
// API, served by internal/server at /. The script is plain JavaScript in one file, so what
// runs in the browser is exactly what is in this directory.
package console
