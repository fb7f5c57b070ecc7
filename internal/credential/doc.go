// Package credential applies an integration's credentials (its `auth` setting) to the
// requests Junction sends upstream.
//
// New turns a *config.Auth into an Applier, resolving every secret (env(NAME), "$NAME",
// file(PATH)) once, at start-up: a missing or empty secret is an error naming the setting
// and the variable, so the integration starts as misconfigured and no request ever
// leaves with an empty secret. Secrets never appear in errors, logs or %v output: the
// appliers print as their kind only ("bearer", "oauth2", …). Secrets() lists the values
// an applier sends, so that its integration can scrub them from the text of a failed
// call (internal/redact) whatever put them there.
//
// The schemes:
//
//   - bearer: "Authorization: Bearer <token>".
//   - api_key: a header "<name>: <key>", or a query parameter <name>=<key> appended to
//     the URL (other parameters are kept as they are).
//   - basic: HTTP Basic authentication (RFC 7617).
//   - oauth2: the client credentials grant (RFC 6749 §4.4). The token is cached and
//     replaced 30 s before it expires (halfway through its life if it lives under a
//     minute; never, if the server gives no expires_in, until the upstream rejects it).
//     Concurrent calls that find no usable token share one token request. After a 401,
//     Rejected drops the token the request carried if it is still the cached one, so a
//     burst of 401s for one token costs one refresh.
//   - aws_signature_v4: AWS Signature Version 4, by the AWS SDK for Go v2 signer, with
//     X-Amz-Content-Sha256 set to the hex SHA-256 of the body (S3 requires it) and
//     X-Amz-Security-Token for temporary credentials.
//   - hmac: Junction's own request signature, below.
//
// Signing schemes (aws_signature_v4, hmac) sign the request as it is when Apply is
// called, so Apply must be the last change made to the request before it is sent.
//
// # The hmac signature
//
// An integration with `auth: hmac { secret: env(S), header: "X-Signature", algorithm:
// sha256 }` sends, on every request, the header
//
//	X-Signature: t=<unix seconds>,v1=<hex HMAC>
//
// where <hex HMAC> is the HMAC, in lower-case hexadecimal, of the message
//
//	<unix seconds> "." <METHOD> "." <path with raw query> "." <body>
//
// with "." a single full stop (0x2E) and nothing else added or removed:
//
//   - HMAC is HMAC-SHA256 (algorithm sha256, the default; 64 hex digits) or HMAC-SHA512
//     (sha512; 128 hex digits), keyed with the secret's bytes;
//   - <unix seconds> is the signing time as a decimal integer of seconds since the Unix
//     epoch, without a sign, the same text in the message as in t=;
//   - <METHOD> is the request method exactly as sent ("GET", "POST"; an empty method
//     counts as GET);
//   - <path with raw query> is the request target exactly as it appears on the HTTP
//     request line: the escaped path followed, when there is a query, by "?" and the raw
//     query, as Go's url.URL.RequestURI returns it ("/v1/orders?id=7&x=a%20b"; "/" for an
//     empty path);
//   - <body> is the exact body bytes (nothing for a request without a body).
//
// A receiver verifies with VerifyHMAC: it parses the header (entries separated by ",",
// each "key=value", spaces around entries ignored; exactly one t, one or more v1,
// unknown keys ignored), rejects a timestamp further than the tolerance from its own
// clock in either direction (default 5 minutes), recomputes the MAC over what it
// received and compares it in constant time with each v1. The timestamp inside the MAC
// limits replays to the tolerance; the method and target inside it stop a signature
// being moved to another endpoint.
package credential
