// Package signing signs the webhooks Junction delivers, so receivers can check that a
// delivery comes from Junction and was not altered or replayed, and verifies such
// signatures (for tests and for inbound Standard Webhooks sources).
//
// # Secrets
//
// An endpoint secret is "whsec_" followed by the standard base64 encoding (RFC 4648 §4,
// with "=" padding) of 16 to 64 random bytes; NewSecret makes one from 32 bytes of
// crypto/rand. The HMAC key of both signature forms below is the base64-DECODED bytes
// after "whsec_", never the text of the secret: for "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
// the key is the 24 bytes that "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" decodes to. This is
// what the Standard Webhooks specification and its libraries do, and using the same key
// for the seed's form means one secret, one key, whichever form a receiver checks.
//
// Secrets never appear in errors: an invalid one is named by its position in the list.
//
// # Standard Webhooks (always sent)
//
// Sign sets three headers (https://www.standardwebhooks.com):
//
//	webhook-id:        <message id>
//	webhook-timestamp: <unix seconds>
//	webhook-signature: v1,<base64 HMAC-SHA256> [v1,<base64 HMAC-SHA256> …]
//
// where:
//
//   - <message id> identifies the message, not the attempt: it is the same on every
//     retry, so receivers can drop duplicates. Sign requires 1 to 255 bytes of visible
//     ASCII (0x21–0x7E).
//   - <unix seconds> is the time of THIS attempt, as a decimal integer, so a retry
//     hours later still lands inside the receiver's tolerance.
//   - each signature is the standard base64 (with padding) of HMAC-SHA256, keyed as
//     above, of the signed bytes below.
//   - with several secrets (rotation: the new secret and the one being retired) there is
//     one "v1,…" entry per secret, in the order given, separated by single spaces; a
//     receiver holding either secret finds a match.
//
// The signed bytes are
//
//	<message id> "." <unix seconds> "." <body>
//
// with "." a single full stop (0x2E), the id and timestamp exactly as in their headers,
// and <body> the exact body bytes sent.
//
// Verify checks these headers: the timestamp (digits only) must be within the tolerance
// of now in either direction (default 5 minutes), and one v1 entry must equal, in
// constant time, the HMAC computed with one of the given secrets. Entries of other
// versions (v1a, …) are ignored. Every failure wraps ErrSignature; errors that do not
// (no secret, an invalid secret) are configuration errors.
//
// # The seed's simple form (when configured)
//
// SignSimple sets one header whose name is configured (for example X-Webhook-Signature):
//
//	X-Webhook-Signature: sha256=<hex HMAC-SHA256(key, body)>
//
// with lower-case hexadecimal, the key as above and the HMAC over the exact body bytes
// only; algorithm sha512 gives "sha512=<hex HMAC-SHA512>". With several secrets the
// entries are joined by ", " ("sha256=ab…, sha256=cd…"). This form signs neither a
// timestamp nor the message id, so it cannot limit replays; it exists for receivers built
// against the seed and is sent in addition to the Standard Webhooks headers.
package signing
