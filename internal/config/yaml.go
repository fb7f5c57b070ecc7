package config

import (
	"regexp"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// The YAML and JSON form is an adapter onto the same syntax tree the language produces,
// so one decoder serves every format and errors keep their line and column:
//
//	integrations:                      integration GitHubAPI {
//	  GitHubAPI:                           timeout: 30s
//	    timeout: 30s                       operation get_user { method: GET … }
//	    operations:                    }
//	      get_user: { method: GET … }
//
// Maps become blocks, sequences lists, scalars literals. A string where the language would
// have words is read as the language: "3 times with exponential_backoff",
// "string, required", "bearer(env(TOKEN))".

// yamlSections maps top-level (and integration-level) collection keys of the YAML form to
// the language's block keyword: each `NAME: { … }` under them becomes `keyword NAME { … }`.
var yamlSections = map[string]string{
	"integrations": "integration",
	"events":       "event",
	"webhooks":     "webhook",
	"sources":      "source",
	"connectors":   "connector",
	"flows":        "flow",
	"jobs":         "job",
	"workflows":    "workflow",
	"plugins":      "plugin",
}

// yamlSubsections are the collections inside a block: an integration's operations, a
// flow's steps and sinks (steps keep the order they are written in).
var yamlSubsections = map[string]map[string]string{
	"integration": {"operations": "operation"},
	"flow":        {"steps": "step", "sinks": "sink"},
}

const yamlMaxDepth = 64

var yamlLine = regexp.MustCompile(`line (\d+)`)

func parseYAML(name string, src []byte, rep *reporter) *File {
	f := &File{Name: name}
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		line := 1
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			line, _ = strconv.Atoi(m[1])
		}
		rep.errorf(Pos{File: name, Line: line, Col: 1}, "%s", err.Error())
		return f
	}
	if len(root.Content) == 0 {
		return f // empty document
	}
	y := &yamlAdapter{file: name, rep: rep}
	doc := root.Content[0]
	if doc.Kind != yaml.MappingNode {
		rep.errorf(y.pos(doc), "expected a mapping at the top (integrations:, events:, webhooks:, handlers:)")
		return f
	}
	f.Entries = y.topLevel(doc)
	return f
}

type yamlAdapter struct {
	file string
	rep  *reporter
	// nodes counts converted nodes: aliases can make a small document expand
	// exponentially ("billion laughs"), so conversion stops at yamlMaxNodes.
	nodes int
}

const yamlMaxNodes = 1_000_000

func (y *yamlAdapter) pos(n *yaml.Node) Pos { return Pos{File: y.file, Line: n.Line, Col: n.Column} }

func (y *yamlAdapter) topLevel(doc *yaml.Node) []*Entry {
	var out []*Entry
	for i := 0; i+1 < len(doc.Content); i += 2 {
		k, v := doc.Content[i], resolveAlias(doc.Content[i+1])
		switch {
		case yamlSections[k.Value] != "":
			out = append(out, y.section(k, v, yamlSections[k.Value], 1)...)
		case k.Value == "handlers":
			out = append(out, y.handlers(v)...)
		default:
			out = append(out, &Entry{KeyPos: y.pos(k), Key: k.Value, Colon: true, Value: y.phrase(v, 1)})
		}
	}
	return out
}

// section turns `integrations: { NAME: { … } }` into `integration NAME { … }` entries.
func (y *yamlAdapter) section(k, v *yaml.Node, keyword string, depth int) []*Entry {
	if v.Kind != yaml.MappingNode {
		y.rep.errorf(y.pos(v), "%s: expected a mapping of names to %s settings", k.Value, keyword)
		return nil
	}
	var out []*Entry
	for i := 0; i+1 < len(v.Content); i += 2 {
		nk, body := v.Content[i], resolveAlias(v.Content[i+1])
		obj := y.node(body, depth+1)
		if o, ok := obj.(*Object); ok && yamlSubsections[keyword] != nil {
			o.Entries = y.subsections(o.Entries, body, yamlSubsections[keyword], depth+1)
		}
		out = append(out, &Entry{
			KeyPos: y.pos(nk), Key: keyword,
			Value: &Phrase{Pos: y.pos(nk), Words: []Node{&Ident{P: y.pos(nk), Name: nk.Value}, obj}},
		})
	}
	return out
}

// subsections rewrites collections such as an integration's `operations: { NAME: { … } }`
// into `operation NAME { … }` entries.
func (y *yamlAdapter) subsections(entries []*Entry, body *yaml.Node, sections map[string]string, depth int) []*Entry {
	var out []*Entry
	for i, e := range entries {
		keyword, ok := sections[e.Key]
		if !ok {
			out = append(out, e)
			continue
		}
		out = append(out, y.section(body.Content[2*i], resolveAlias(body.Content[2*i+1]), keyword, depth)...)
	}
	return out
}

// handlers turns `handlers: [{on: "user.created", do: workflow, target: "x", async: true}]`
// into the language's `on "user.created" do workflow "x" async` statements.
func (y *yamlAdapter) handlers(v *yaml.Node) []*Entry {
	if v.Kind != yaml.SequenceNode {
		y.rep.errorf(y.pos(v), "handlers: expected a list of {on, do, target, async}")
		return nil
	}
	var out []*Entry
	for _, item := range v.Content {
		item = resolveAlias(item)
		fields := map[string]*yaml.Node{}
		if item.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(item.Content); i += 2 {
				fields[item.Content[i].Value] = item.Content[i+1]
			}
		}
		on, do, target := fields["on"], fields["do"], fields["target"]
		if on == nil || do == nil || target == nil || len(fields) > 4 || (len(fields) == 4 && fields["async"] == nil) {
			y.rep.errorf(y.pos(item), "handlers: expected {on: EVENT, do: workflow|integration|webhook|emit|plugin, target: NAME, async: true|false}")
			continue
		}
		p := y.pos(item)
		words := []Node{
			&String{P: y.pos(on), Value: on.Value},
			&Ident{P: y.pos(do), Name: "do"},
			&Ident{P: y.pos(do), Name: do.Value},
			&String{P: y.pos(target), Value: target.Value},
		}
		if a := fields["async"]; a != nil && a.Value == "true" {
			words = append(words, &Ident{P: y.pos(a), Name: "async"})
		}
		out = append(out, &Entry{KeyPos: p, Key: "on", Value: &Phrase{Pos: p, Words: words}})
	}
	return out
}

func (y *yamlAdapter) phrase(n *yaml.Node, depth int) *Phrase {
	return &Phrase{Pos: y.pos(n), Words: []Node{y.node(n, depth)}}
}

// node converts one YAML node.
func (y *yamlAdapter) node(n *yaml.Node, depth int) Node {
	n = resolveAlias(n)
	p := y.pos(n)
	if depth > yamlMaxDepth {
		y.rep.errorf(p, "nesting deeper than %d levels", yamlMaxDepth)
		return &Ident{P: p, Name: "null"}
	}
	if y.nodes++; y.nodes > yamlMaxNodes {
		if y.nodes == yamlMaxNodes+1 {
			y.rep.errorf(p, "document too large: more than %d values once aliases are expanded", yamlMaxNodes)
		}
		return &Ident{P: p, Name: "null"}
	}
	switch n.Kind {
	case yaml.MappingNode:
		return y.mapping(n, p, depth)
	case yaml.SequenceNode:
		l := &List{P: p}
		for _, it := range n.Content {
			l.Items = append(l.Items, y.phrase(it, depth+1))
		}
		return l
	case yaml.ScalarNode:
		return yamlScalar(n, p)
	}
	y.rep.errorf(p, "unsupported YAML node")
	return &Ident{P: p, Name: "null"}
}

// mapping converts a mapping, whose keys must be plain scalars.
func (y *yamlAdapter) mapping(n *yaml.Node, p Pos, depth int) *Object {
	obj := &Object{P: p}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yaml.ScalarNode {
			y.rep.errorf(y.pos(k), "expected a plain key")
			continue
		}
		if k.Value == "<<" {
			y.rep.errorf(y.pos(k), "YAML merge keys (<<) are not supported: write the settings out")
			continue
		}
		obj.Entries = append(obj.Entries, &Entry{KeyPos: y.pos(k), Key: k.Value, Colon: true, Value: y.phrase(n.Content[i+1], depth+1)})
	}
	return obj
}

// yamlScalar converts a scalar by its tag: numbers, booleans and null are what the language
// writes them as; anything else is a string that came from data.
func yamlScalar(n *yaml.Node, p Pos) Node {
	switch n.ShortTag() {
	case "!!int", "!!float":
		return &Number{P: p, Text: n.Value}
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err == nil && b {
			return &Ident{P: p, Name: "true"}
		}
		return &Ident{P: p, Name: "false"}
	case "!!null":
		return &Ident{P: p, Name: "null"}
	}
	return &String{P: p, Value: n.Value, FromData: true, Plain: n.Style == 0}
}

// resolveAlias follows *alias references to their anchored node.
func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 16; i++ {
		n = n.Alias
	}
	return n
}
