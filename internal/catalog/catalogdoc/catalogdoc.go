package catalogdoc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/junctionhq/junction/internal/catalog"
	"github.com/junctionhq/junction/internal/config"
)

// Entry is a catalog entry, decoded.
type Entry struct {
	Name        string
	Description string
	Notes       []string // the paragraphs of the comment the entry's file starts with
	Integration *config.Integration
	Source      *config.Source // the provider's webhooks; nil when the entry has none
	// Needs are the environment variables the entry reads and has no default for: what
	// must be set (or overridden in the block) before it can be called.
	Needs []string
	File  []byte // the entry's file, as embedded
}

// Entries decodes every entry, sorted by name. An entry that does not decode cleanly
// is an error: the catalog's tests keep that from happening.
func Entries() ([]Entry, error) {
	var out []Entry
	for _, name := range catalog.Names() {
		e, err := Lookup(name)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// ErrUnknown is wrapped by Lookup's error for a name the catalog does not have.
var ErrUnknown = errors.New("unknown catalog entry")

// Lookup decodes one entry.
func Lookup(name string) (Entry, error) {
	raw, ok := catalog.Lookup(name)
	if !ok {
		return Entry{}, fmt.Errorf("%w %q; the catalog has: %s", ErrUnknown, name, strings.Join(catalog.Names(), ", "))
	}
	cfg, diags := config.Decode(raw.Path, raw.Source)
	if diags.HasErrors() || len(cfg.Integrations) != 1 {
		return Entry{}, fmt.Errorf("catalog entry %s does not decode: %v", name, diags.Err())
	}
	in := cfg.Integrations[0]
	e := Entry{Name: name, Description: in.Description, Notes: notes(raw.Source), Integration: in, File: raw.Source}
	if len(cfg.Sources) > 0 {
		e.Source = cfg.Sources[0]
	}
	for _, p := range cfg.EnvProblems(func(string) (string, bool) { return "", false }) {
		if m, ok := errors.AsType[*config.MissingError](p.Err); ok && !slices.Contains(e.Needs, m.Ref) {
			e.Needs = append(e.Needs, m.Ref)
		}
	}
	return e, nil
}

// notes reads the paragraphs of the comment at the top of an entry's file.
func notes(src []byte) []string {
	var paras []string
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			paras = append(paras, strings.Join(cur, " "))
			cur = nil
		}
	}
	for line := range strings.Lines(string(src)) {
		text, ok := strings.CutPrefix(strings.TrimSpace(line), "//")
		if !ok {
			break
		}
		if text = strings.TrimSpace(text); text == "" {
			flush()
			continue
		}
		cur = append(cur, text)
	}
	flush()
	return paras
}

// request renders an operation's request: "GET /users/{username}", "GraphQL query",
// "computed by Junction".
func request(op *config.Operation) string {
	switch {
	case op.GraphQL != nil:
		return "GraphQL " + op.GraphQL.Kind
	case op.Computes == config.ComputePresignedURL:
		return "computed: presigned URL for " + op.Path
	}
	s := op.Method + " " + op.Path
	if op.BodyType == "form" {
		s += " (form)"
	}
	return s
}

// List writes the entries as a table: name, description, operations, what it needs.
func List(w io.Writer) error {
	entries, err := Entries()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tDESCRIPTION\tOPERATIONS\tWEBHOOKS\tNEEDS")
	for _, e := range entries {
		hooks := "-"
		if e.Source != nil {
			hooks = e.Source.Verify
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", e.Name, e.Description, len(e.Integration.Operations), hooks, strings.Join(e.Needs, " "))
	}
	return tw.Flush()
}

// Show writes one entry's page: what it is, how to use it, its operations and the
// entry's file itself.
func Show(w io.Writer, name string) error {
	e, err := Lookup(name)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s: %s\n\n", e.Name, e.Description)
	for _, p := range e.Notes {
		fmt.Fprintf(&b, "%s\n\n", wrap(p, 88))
	}
	fmt.Fprintf(&b, "Use it:\n  integration NAME from catalog %q { … }\n", e.Name)
	if e.Source != nil {
		fmt.Fprintf(&b, "  source NAME from catalog %q { … }\n", e.Name)
	}
	if len(e.Needs) > 0 {
		fmt.Fprintf(&b, "Needs: %s\n", strings.Join(e.Needs, ", "))
	}
	b.WriteString("\nOperations:\n")
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, op := range e.Integration.Operations {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", op.Name, request(op), op.Description)
	}
	_ = tw.Flush()
	fmt.Fprintf(&b, "\nThe entry (catalog/%s.cai):\n\n%s", e.Name, e.File)
	_, err = w.Write(b.Bytes())
	return err
}

func wrap(s string, width int) string {
	var b strings.Builder
	n := 0
	for _, word := range strings.Fields(s) {
		if n > 0 && n+1+len(word) > width {
			b.WriteByte('\n')
			n = 0
		} else if n > 0 {
			b.WriteByte(' ')
			n++
		}
		b.WriteString(word)
		n += len(word)
	}
	return b.String()
}
