// Package option declares a component's options once, as a Spec of fields (name, type,
// default, required, secret, description), and lets that one declaration do every job
// around them: Decode turns a configuration block into checked Values with positions for
// messages (unknown keys with "did you mean", secrets resolved but never printed), the
// same decoding checks a block no flow uses yet, and Markdown renders the reference.
// Rules that fit no field alone (one of two keys, what a role needs) are small hooks on
// the Spec. TLS declares the `tls` option the network connectors share, loading its
// files through tlsfiles. Connectors use it; it knows nothing of them.
package option
