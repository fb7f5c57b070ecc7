package config

import (
	"slices"
	"strings"

	"github.com/junctionhq/junction/internal/catalog"
)

// A catalog entry (package catalog) is a file of the language that declares
// `integration NAME { … }`, and maybe `source NAME { … }`, for one provider. A
// configuration uses it in one of two spellings, which mean the same:
//
//	integration Stripe from catalog "stripe" { auth: bearer(env(KEY)) }    the language
//	integrations: { Stripe: { catalog: stripe, auth: … } }                  YAML (and the language, in the block)
//
// The entry's block is the base and the configuration's block is laid over it before
// anything is decoded, so every setting is decoded, checked and reported once, by the
// usual code, with the position of whichever file wrote it:
//   - a setting the configuration gives replaces the entry's whole (auth, base_url,
//     retry, circuit_breaker, …);
//   - headers are merged by name, the configuration's winning;
//   - an operation of the same name is merged setting by setting in the same way (an
//     operation's own headers by name); a new name adds an operation.

// catalogKey is the setting that names the entry inside a block.
const catalogKey = "catalog"

// catalogKinds are the blocks a catalog entry may provide.
var catalogKinds = map[string]bool{"integration": true, "source": true}

// declaredBlock reads a declaration's name and block: `KEYWORD NAME { … }`, or for the
// kinds a catalog provides also `KEYWORD NAME from catalog "ENTRY" [{ … }]`, which
// becomes the block with a `catalog: "ENTRY"` setting in it, the form YAML writes.
func (d *decoder) declaredBlock(e *Entry) (string, []*Entry, bool) {
	ws := e.Value.Words
	if !catalogKinds[e.Key] || e.Colon || len(e.Value.Modifiers) > 0 || len(ws) < 4 || len(ws) > 5 || !isWord(ws[1], "from") {
		return d.namedBlock(e)
	}
	name, okName := ws[0].(*Ident)
	entry, okEntry := ws[3].(*String)
	if !okName || strings.Contains(name.Name, ".") || !isWord(ws[2], "catalog") || !okEntry {
		d.rep.errorf(e.KeyPos, `expected %s NAME from catalog "ENTRY" { … }, found %s %s`, e.Key, e.Key, truncate(phraseText(e.Value), 50))
		return "", nil, false
	}
	var body []*Entry
	if len(ws) == 5 {
		obj, ok := ws[4].(*Object)
		if !ok {
			d.rep.errorf(ws[4].Position(), `expected { or the end of the line after %s %s from catalog "%s", found %s`, e.Key, name.Name, entry.Value, Text(ws[4]))
			return "", nil, false
		}
		body = obj.Entries
	}
	ref := &Entry{KeyPos: ws[2].Position(), Key: catalogKey, Colon: true, Value: &Phrase{Pos: entry.P, Words: []Node{entry}}}
	return name.Name, append([]*Entry{ref}, body...), true
}

// withCatalog lays a block over the catalog entry it names, if it names one, and
// returns the combined block and the entry's name. keys are the block's settings (for
// colon-less lines that pack several). Problems are reported; the block is then
// decoded as written, without the entry.
func (d *decoder) withCatalog(kind, name string, body []*Entry, keys map[string]setting) ([]*Entry, string) {
	i := slices.IndexFunc(body, func(e *Entry) bool { return e.Key == catalogKey })
	if i < 0 {
		return body, ""
	}
	ref := body[i]
	rest := slices.Delete(slices.Clone(body), i, i+1)
	if j := slices.IndexFunc(rest, func(e *Entry) bool { return e.Key == catalogKey }); j >= 0 {
		d.rep.errorf(rest[j].KeyPos, "%s %s names a catalog entry twice (first at line %d)", kind, name, ref.KeyPos.Line)
		return rest, ""
	}
	entryName, ok := d.name(ref, `the name of a catalog entry, such as "stripe"`)
	if !ok {
		return rest, ""
	}
	at := ref.Value.Words[0].Position()
	entry, found := catalog.Lookup(entryName)
	if !found {
		msg := "unknown catalog entry %q"
		if s := suggest(entryName, catalog.Names()); s != "" {
			msg += "; did you mean %q?"
			d.rep.errorf(at, msg+" (junction catalog list shows them all)", entryName, s)
		} else {
			d.rep.errorf(at, msg+"; the catalog has: %s", entryName, strings.Join(catalog.Names(), ", "))
		}
		return rest, ""
	}
	base, ok := d.catalogBlock(entry, kind)
	if !ok {
		var has []string
		for _, k := range []string{"integration", "source"} {
			if _, ok := d.catalogBlock(entry, k); ok {
				has = append(has, k)
			}
		}
		d.rep.errorf(at, "catalog entry %q has no %s block (it declares: %s)", entryName, kind, strings.Join(has, ", "))
		return rest, ""
	}
	return mergeBlocks(splitPairs(base, keys), splitPairs(rest, keys)), entryName
}

// catalogBlock parses a catalog entry and returns the body of its block of the kind.
// The entries are parsed afresh on every use, so no configuration shares (or changes)
// another's syntax tree.
func (d *decoder) catalogBlock(entry catalog.Entry, kind string) ([]*Entry, bool) {
	for _, e := range parse(entry.Path, string(entry.Source), d.rep).Entries {
		if e.Key != kind {
			continue
		}
		if _, body, ok := d.namedBlock(e); ok {
			return body, true
		}
	}
	return nil, false
}

// mergeBlocks lays over's settings over base's (the rules are at the top of the file).
// A setting written twice in over stays twice, so the decoder reports it.
func mergeBlocks(base, over []*Entry) []*Entry {
	replaced := map[string]bool{}
	for _, o := range over {
		if o.Key != "operation" && o.Key != "headers" {
			replaced[o.Key] = true
		}
	}
	out := make([]*Entry, 0, len(base)+len(over))
	for _, b := range base {
		if !replaced[b.Key] {
			out = append(out, b)
		}
	}
	mergedOp := map[string]bool{}
	mergedHeaders := false
	for _, o := range over {
		switch o.Key {
		case "operation":
			name, body, ok := blockOf(o)
			i := slices.IndexFunc(out, func(b *Entry) bool { n, _, isOp := blockOf(b); return b.Key == "operation" && isOp && n == name })
			if !ok || i < 0 || mergedOp[name] {
				out = append(out, o)
				continue
			}
			mergedOp[name] = true
			_, baseBody, _ := blockOf(out[i])
			words := slices.Clone(o.Value.Words)
			words[len(words)-1] = &Object{P: words[len(words)-1].Position(), Entries: mergeBlocks(baseBody, body)}
			out[i] = &Entry{KeyPos: o.KeyPos, Key: o.Key, Colon: o.Colon, Value: &Phrase{Pos: o.Value.Pos, Words: words}}
		case "headers":
			i := slices.IndexFunc(out, func(b *Entry) bool { return b.Key == "headers" })
			baseObj, okBase := singleObject(out, i)
			overObj, okOver := o.Value.Single().(*Object)
			if mergedHeaders || !okBase || !okOver {
				if i >= 0 && !mergedHeaders {
					out = slices.Delete(out, i, i+1) // not both `{ … }`: the configuration's replaces the entry's
				}
				mergedHeaders = true
				out = append(out, o)
				continue
			}
			mergedHeaders = true
			given := map[string]bool{}
			for _, h := range overObj.Entries {
				given[strings.ToLower(h.Key)] = true
			}
			var entries []*Entry
			for _, h := range baseObj.Entries {
				if !given[strings.ToLower(h.Key)] {
					entries = append(entries, h)
				}
			}
			entries = append(entries, overObj.Entries...)
			out[i] = &Entry{KeyPos: o.KeyPos, Key: o.Key, Colon: o.Colon, Value: &Phrase{Pos: o.Value.Pos, Words: []Node{&Object{P: overObj.P, Entries: entries}}}}
		default:
			out = append(out, o)
		}
	}
	return out
}

// blockOf reads `operation NAME { … }` without reporting anything.
func blockOf(e *Entry) (string, []*Entry, bool) {
	ws := e.Value.Words
	if len(ws) != 2 {
		return "", nil, false
	}
	id, okName := ws[0].(*Ident)
	obj, okBody := ws[1].(*Object)
	if !okName || !okBody {
		return "", nil, false
	}
	return id.Name, obj.Entries, true
}

// singleObject returns entries[i]'s value when it is one `{ … }`.
func singleObject(entries []*Entry, i int) (*Object, bool) {
	if i < 0 {
		return nil, false
	}
	obj, ok := entries[i].Value.Single().(*Object)
	return obj, ok
}
