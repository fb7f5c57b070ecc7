// Package transform holds the message-processing primitives of the flow engine: JSONPath
// expressions (Path), mapping templates (Template), boolean conditions (Condition) and
// JSON Schema validation (Schema). Each is compiled once from configuration, reporting
// configuration mistakes then, and applied to many messages, concurrently.
//
// # Messages
//
// A message is a JSON document decoded by Decode into a tree of map[string]any, []any,
// string, bool, nil and json.Number. Numbers stay json.Number so that ids beyond 2^53
// and exact decimals ("1000.00") survive a decode/transform/encode round trip. Trees are
// treated as immutable: results share unchanged sub-trees with their input (a template's
// "$.items[*]" gives the input's item maps, not copies), and nothing here modifies a
// message. Template.DecodeFor is a cheaper Decode for a message that only a template
// reads (a flow's first transform): it leaves out what the template never reads.
//
// # Expressions
//
// Conditions and "=" template leaves are expr-lang expressions whose environment is the
// message: its top-level fields are names ("total >= 1000", `customer.tier == "gold"`),
// and "$" is the whole message, which is the only name when the message is not an object
// (a top-level field literally named "$" is shadowed). A field named like one of
// expr-lang's builtin functions (count, sum, type, keys, …) is read as "$.count", since
// "count" alone is the function.
//
// expr-lang cannot compare json.Number with its own numbers, so the fields an expression
// refers to are converted before each evaluation: an integer that fits int64 becomes int,
// any other number float64 (integers beyond int64 therefore compare approximately). Only
// the referenced fields are converted, and containers are copied only when they hold
// numbers. Results of "=" leaves are converted back to tree form (json.Number numbers).
//
// A field that is missing reads as nil: "total == nil" is true, and an operation that
// needs a value ("total >= 1000") fails with an error naming the missing field rather
// than quietly evaluating to false, so a step can report why a message failed.
package transform
