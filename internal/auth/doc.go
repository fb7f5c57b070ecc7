// Package auth issues and checks Junction's API bearer tokens.
//
// A token has two parts:
//
//   - the secret, "jct_" followed by 43 base64url characters (32 bytes from crypto/rand),
//     which the client sends as "Authorization: Bearer jct_…" and which Junction shows
//     exactly once, when the token is issued;
//   - the ID, "tok_" followed by 16 base32 characters, which is public: it appears in
//     token lists and logs and is what an admin revokes.
//
// Only the SHA-256 of the secret is stored. The fixed prefix lets secret scanners spot
// leaked tokens and lets Authenticate reject garbage without touching the store.
//
// Roles are ordered: an admin token may do everything a user token may (see Allows).
//
// A client certificate (`junction serve --tls-client-ca`) stands for a token too: the one
// active token whose name is the certificate's subject CN, whose role it takes
// (TokenNamed). Access is granted, listed and revoked with tokens alone, whether the
// client sends the secret or a certificate.
//
// Service is the one way to manage tokens, for the HTTP API and the CLI alike, so its
// rules hold for every caller: only admins create, list and revoke tokens; roles and
// names are checked field by field; a token never revokes itself (ErrRevokeSelf).
package auth
