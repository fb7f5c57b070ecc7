package option

import (
	"fmt"
	"strings"
	"time"
)

// Markdown writes the reference of a component named name (a connector type) that
// plays the roles plays (Source, Sink or both): a "## name" section with the summary,
// a table of options for each role, the description and the examples.
func (s *Spec) Markdown(b *strings.Builder, name string, plays Role) {
	fmt.Fprintf(b, "## %s\n\n%s\n\n", name, strings.TrimSpace(s.Summary))
	// Options every role reads first, then those only a source or only a sink reads.
	group := func(f Field) Role {
		if f.For == 0 || f.For&plays == plays {
			return plays
		}
		return f.For & plays
	}
	for _, g := range []struct {
		role  Role
		title string
	}{{plays, "Options"}, {Source, "Source options"}, {Sink, "Sink options"}} {
		var rows strings.Builder
		for _, f := range s.Fields {
			if group(f) == g.role {
				writeRows(&rows, "", f)
			}
		}
		if rows.Len() == 0 || (g.title != "Options" && g.role == plays) {
			continue
		}
		fmt.Fprintf(b, "%s:\n\n| Option | Type | Required | Default | Description |\n| --- | --- | --- | --- | --- |\n%s\n", g.title, rows.String())
	}
	if d := strings.TrimSpace(s.Description); d != "" {
		b.WriteString(d + "\n\n")
	}
	for _, ex := range s.Examples {
		fmt.Fprintf(b, "Example (%s): %s\n\n```\nconnector %s-%s {\n    type: %s\n", roleName(ex.Role), ex.Title, name, roleName(ex.Role), name)
		for line := range strings.SplitSeq(strings.TrimSpace(ex.Options), "\n") {
			b.WriteString("    " + line + "\n")
		}
		b.WriteString("}\n```\n\n")
	}
}

func writeRows(b *strings.Builder, prefix string, f Field) {
	name := prefix + f.Name
	fmt.Fprintf(b, "| `%s` | %s | %s | %s | %s |\n", name, typeText(f), requiredText(f.Required), defaultText(f.Default), cell(f.Description))
	sub := name + "."
	if f.Type == Blocks {
		sub = name + "[]."
	}
	for _, nf := range f.Fields {
		writeRows(b, sub, nf)
	}
}

var typeNames = map[Type]string{
	String: "string", Int: "whole number", Bool: "true or false", Duration: "duration",
	Strings: "list of strings", Block: "block", Blocks: "list of blocks", Map: "block of any keys", Any: "any value",
}

func typeText(f Field) string {
	t := typeNames[f.Type]
	if f.Shorthand != "" {
		t = "string (the " + f.Shorthand + ") or block"
	}
	if f.Switch {
		t = "true, false or block"
	}
	if len(f.Enum) > 0 {
		quoted := make([]string, len(f.Enum))
		for i, e := range f.Enum {
			quoted[i] = "`" + e + "`"
		}
		t = "one of " + strings.Join(quoted, ", ")
	}
	if f.Secret {
		t += "; env() or file() allowed, never shown"
	}
	return t + boundsText(f)
}

func boundsText(f Field) string {
	switch {
	case f.Max == nil && (f.Min == 0 || f.Min == time.Duration(0)):
		return ", not negative"
	case f.Min != nil && f.Max != nil:
		return fmt.Sprintf(", %s to %s", bound(f.Min), bound(f.Max))
	case f.Min != nil:
		return ", at least " + bound(f.Min)
	case f.Max != nil:
		return ", at most " + bound(f.Max)
	}
	return ""
}

func bound(v any) string {
	if d, ok := v.(time.Duration); ok {
		return durationText(d)
	}
	return fmt.Sprint(v)
}

func requiredText(r Role) string {
	switch r {
	case 0:
		return ""
	case Always:
		return "yes"
	case Source | Sink:
		return "source, sink"
	}
	return roleName(r)
}

func defaultText(d any) string {
	switch x := d.(type) {
	case nil:
		return ""
	case string:
		return fmt.Sprintf("`%q`", x)
	case []string:
		return fmt.Sprintf("`%q`", x)
	case time.Duration:
		return "`" + durationText(x) + "`"
	}
	return fmt.Sprintf("`%v`", d)
}

// durationText writes a duration as a configuration does: 2s, 1m, 30s.
func durationText(d time.Duration) string {
	s := d.String()
	for _, unit := range []string{"h", "m"} {
		s = strings.Replace(s, unit+"0s", unit, 1)
	}
	return strings.Replace(s, "h0m", "h", 1)
}

func cell(s string) string {
	return strings.ReplaceAll(strings.Join(strings.Fields(s), " "), "|", `\|`)
}
