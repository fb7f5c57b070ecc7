// Package redact keeps secrets out of error messages and logs. Go's HTTP client puts the
// whole request URL into its errors ("Get \"https://api/x?appid=KEY\": connection
// refused"), so an API key sent in a query string, or credentials in a URL's user info,
// would reach every reply, log line and dead letter that shows the error. URL and Error
// remove them at the source; a Scrubber is the safety net that removes known secret
// values from any text that leaves the process.
package redact
