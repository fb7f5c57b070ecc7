// Package deadline bounds every store call with a deadline and marks the failures of the
// database with store.ErrUnavailable, so a database that stops answering costs a request
// a few seconds and a 503, never a hang. Store wraps any store.Store; package backend
// wraps every store it opens, so every user of the store gets it.
package deadline
