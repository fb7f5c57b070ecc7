package server

import (
	"fmt"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Names and identifiers a client sends (path values, filters, the string members of a
// request body) are checked by one rule before anything looks them up or stores them:
// valid UTF-8 without control characters. NUL is the one that matters most: PostgreSQL
// text cannot hold it (the store would fail where SQLite stores it), and the others make
// no sense in a name and garble logs and terminals.

// identifierProblem says what makes s unusable as a name or identifier, or "" when
// nothing does.
func identifierProblem(s string) string {
	if !utf8.ValidString(s) {
		return "not valid UTF-8"
	}
	if i := strings.IndexFunc(s, unicode.IsControl); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return fmt.Sprintf("contains the control character %U, which names and identifiers may not hold", r)
	}
	return ""
}

// pathNames returns the names of the single-segment wildcards of a ServeMux pattern
// ("{id}"), which hold names and identifiers. A trailing "{path...}" is a path passed
// on, not a name, and is left to its handler.
func pathNames(pattern string) []string {
	var names []string
	for rest := pattern; ; {
		_, after, ok := strings.Cut(rest, "{")
		if !ok {
			return names
		}
		name, tail, _ := strings.Cut(after, "}")
		if !strings.HasSuffix(name, "...") {
			names = append(names, name)
		}
		rest = tail
	}
}

// checkPath wraps h so that a request whose path values named in names break the
// identifier rule gets a 400 naming the wildcard (errors[].field "id", "name", …).
func checkPath(names []string, h handlerFunc) handlerFunc {
	if len(names) == 0 {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		for _, name := range names {
			if msg := identifierProblem(r.PathValue(name)); msg != "" {
				return invalid(fmt.Sprintf("path parameter %q: %s", name, msg), FieldError{Field: name, Detail: msg})
			}
		}
		return h(w, r)
	}
}
