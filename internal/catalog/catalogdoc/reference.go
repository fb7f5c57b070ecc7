package catalogdoc

import (
	"bytes"
	"fmt"
	"strings"
)

// Reference renders docs/catalog.md from the entries.
func Reference() []byte {
	entries, err := Entries()
	if err != nil {
		panic(err) // the entries are embedded and tested: not reached
	}
	var b bytes.Buffer
	b.WriteString(`# Catalog of ready integrations

<!-- Generated from internal/catalog/entries by go generate ./internal/catalog/catalogdoc; do not edit. -->

Junction ships ready definitions of common APIs, embedded in the binary. Use one as an
integration of your own, give it what only you know (credentials come from the
environment variables the entry names, or from your own auth), and override what you
want to change:

` + "```codeai" + `
integration Payments from catalog "stripe" {
    auth: bearer(env(PAYMENTS_STRIPE_KEY))    // replaces the entry's auth
    timeout: 10s                               // replaces the entry's timeout
    headers: { "Stripe-Account": "acct_1" }    // joins the entry's headers
    operation get_customer { cache: 1m }       // changes one setting of an operation
}
` + "```" + `

In YAML, name the entry in the block: ` + "`integrations: { Payments: { catalog: stripe, … } }`" + `.

What your block says replaces the entry's setting as a whole (auth, base_url, retry,
circuit_breaker, …), except headers, which are merged by name (yours win), and
operations: one with the name of an entry's operation changes only the settings it
gives, a new name adds an operation. Entries with webhooks also provide a source:
` + "`source NAME from catalog \"stripe\" { … }`" + `. An unknown entry name is an error
with its position. ` + "`junction catalog list`" + ` lists the entries, ` + "`junction catalog show NAME`" + `
prints one, its file included. Each entry is tested against a local fake of its API,
error answers and rate limits included (internal/catalog).

| entry | what | operations | webhooks | needs |
| --- | --- | --- | --- | --- |
`)
	for _, e := range entries {
		hooks := "—"
		if e.Source != nil {
			hooks = "`verify: " + e.Source.Verify + "`"
		}
		fmt.Fprintf(&b, "| [`%s`](#%s) | %s | %d | %s | %s |\n", e.Name, e.Name, e.Description, len(e.Integration.Operations), hooks, codeList(e.Needs))
	}
	for _, e := range entries {
		fmt.Fprintf(&b, "\n## %s\n\n", e.Name)
		for _, p := range e.Notes {
			fmt.Fprintf(&b, "%s\n\n", wrap(p, 88))
		}
		fmt.Fprintf(&b, "```codeai\nintegration %s from catalog %q {}\n", strings.ToUpper(e.Name[:1])+strings.ReplaceAll(e.Name[1:], "-", "_"), e.Name)
		if e.Source != nil {
			fmt.Fprintf(&b, "source %sEvents from catalog %q {}\n", strings.ToUpper(e.Name[:1])+strings.ReplaceAll(e.Name[1:], "-", "_"), e.Name)
		}
		b.WriteString("```\n\n")
		if u := e.Integration.BaseURL; u != nil {
			fmt.Fprintf(&b, "Base URL `%s`", u.String())
		}
		if a := e.Integration.Auth; a != nil {
			fmt.Fprintf(&b, ", auth `%s`", a.Kind)
		}
		if len(e.Needs) > 0 {
			fmt.Fprintf(&b, "; needs %s", codeList(e.Needs))
		}
		b.WriteString(".\n\n| operation | request | description |\n| --- | --- | --- |\n")
		for _, op := range e.Integration.Operations {
			fmt.Fprintf(&b, "| `%s` | `%s` | %s |\n", op.Name, request(op), op.Description)
		}
		if s := e.Source; s != nil {
			fmt.Fprintf(&b, "\nWebhooks: verify `%s` with `%s`, published as `%s`.\n", s.Verify, s.Secret.String(), s.Event)
		}
	}
	return b.Bytes()
}

func codeList(names []string) string {
	if len(names) == 0 {
		return "—"
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "`" + n + "`"
	}
	return strings.Join(out, ", ")
}
