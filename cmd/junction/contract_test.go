package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The end-to-end tests' requests and answers are checked against the server's own
// /openapi.json (issue 13): every request the api helper sends goes to a documented
// operation and gets a documented success status, or a problem document; a request that
// succeeds sent the body its operation documents.

type contractMedia map[string]struct {
	Schema any `json:"schema"`
}

type contractOp struct {
	RequestBody *struct {
		Required bool          `json:"required"`
		Content  contractMedia `json:"content"`
	} `json:"requestBody"`
	Responses map[string]struct {
		Content contractMedia `json:"content"`
	} `json:"responses"`
}

type contract struct {
	paths map[string]map[string]contractOp // path template → method → operation
}

var contracts sync.Map // server base URL → *contract

func contractOf(t *testing.T, base string) *contract {
	t.Helper()
	if c, ok := contracts.Load(base); ok {
		return c.(*contract)
	}
	resp, err := http.Get(base + "/openapi.json")
	if err != nil {
		t.Fatalf("GET /openapi.json: %v", err)
	}
	defer resp.Body.Close()
	var doc struct {
		Paths map[string]map[string]contractOp `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /openapi.json: %d %v", resp.StatusCode, err)
	}
	c := &contract{paths: doc.Paths}
	contracts.Store(base, c)
	return c
}

// match finds the path template a request path belongs to: the one with the most literal
// segments in common. A last {path} parameter takes the rest of the path.
func (c *contract) match(path string) (string, bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	best, bestScore := "", -1
	for tmpl := range c.paths {
		ts := strings.Split(strings.Trim(tmpl, "/"), "/")
		rest := ts[len(ts)-1] == "{path}"
		if len(segs) < len(ts) || (!rest && len(segs) != len(ts)) {
			continue
		}
		score, ok := 0, true
		for i, seg := range ts {
			switch {
			case strings.HasPrefix(seg, "{"):
			case seg == segs[i]:
				score++
			default:
				ok = false
			}
			if !ok {
				break
			}
		}
		if ok && score > bestScore {
			best, bestScore = tmpl, score
		}
	}
	return best, bestScore >= 0
}

// check reports how an exchange breaks the contract, or "" when it keeps it. reqBody is
// the JSON body the request sent, nil when it sent none.
func (c *contract) check(method, target string, reqBody []byte, status int, header http.Header, body []byte) string {
	path, _, _ := strings.Cut(target, "?")
	ct, _, _ := mime.ParseMediaType(header.Get("Content-Type"))
	tmpl, matched := c.match(path)
	passthrough := false
	if matched {
		_, passthrough = c.paths[tmpl][strings.ToLower(method)].Responses["2XX"]
	}
	// A call's or proxy's answer is the upstream's, whatever its status; Junction's own
	// refusals of it are problem documents.
	if status >= 400 && !(passthrough && ct != "application/problem+json") {
		var p struct {
			Type, Title string
			Status      int
		}
		if ct != "application/problem+json" || json.Unmarshal(body, &p) != nil || p.Type == "" || p.Title == "" || p.Status != status {
			return fmt.Sprintf("a %d answer that is not a problem document (%s): %.200s", status, ct, body)
		}
	}
	if !matched {
		if status == http.StatusNotFound || status == http.StatusMethodNotAllowed {
			return ""
		}
		return "no operation is documented at " + path
	}
	op, ok := c.paths[tmpl][strings.ToLower(method)]
	if !ok {
		if status == http.StatusMethodNotAllowed || status == http.StatusNotFound {
			return ""
		}
		return fmt.Sprintf("%s %s is not documented (path %s answered %d)", method, tmpl, path, status)
	}
	if status >= 400 {
		return "" // "default" covers every problem; a refused request may be wrong on purpose
	}
	if problem := checkRequest(op, reqBody, fmt.Sprintf("%s %s", method, tmpl)); problem != "" {
		return problem
	}
	if _, ok := op.Responses["2XX"]; ok && status/100 == 2 {
		return ""
	}
	resp, ok := op.Responses[strconv.Itoa(status)]
	if !ok {
		var documented []string
		for code := range op.Responses {
			documented = append(documented, code)
		}
		return fmt.Sprintf("%s %s answered %d; documented: %s", method, tmpl, status, strings.Join(documented, ", "))
	}
	media, ok := resp.Content["application/json"]
	if !ok || ct != "application/json" {
		return ""
	}
	return validateJSON(media.Schema, body, fmt.Sprintf("%s %s %d", method, tmpl, status))
}

// checkRequest reports how the JSON body of a request that succeeded breaks what its
// operation documents: a body where it takes none, none where it needs one, or one that
// does not match its schema.
func checkRequest(op contractOp, reqBody []byte, what string) string {
	rb := op.RequestBody
	switch {
	case rb == nil && reqBody != nil:
		return fmt.Sprintf("%s succeeded with a body, yet it documents none: %.200s", what, reqBody)
	case rb == nil:
		return ""
	case reqBody == nil && rb.Required:
		return what + " succeeded without a body, yet it documents a required one"
	case reqBody == nil:
		return ""
	}
	media, ok := rb.Content["application/json"]
	if !ok {
		if _, raw := rb.Content["*/*"]; raw {
			return ""
		}
		return fmt.Sprintf("%s succeeded with a JSON body, yet it documents none: %.200s", what, reqBody)
	}
	return validateJSON(media.Schema, reqBody, what+" request")
}

// validateJSON checks a body, sent or received, against its documented schema.
func validateJSON(schema any, body []byte, what string) string {
	c := jsonschema.NewCompiler()
	if err := c.AddResource("body.json", schema); err != nil {
		return fmt.Sprintf("%s: the documented schema does not load: %v", what, err)
	}
	sch, err := c.Compile("body.json")
	if err != nil {
		return fmt.Sprintf("%s: the documented schema does not compile: %v", what, err)
	}
	value, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Sprintf("%s: the body is not JSON: %.200s", what, body)
	}
	if err := sch.Validate(value); err != nil {
		return fmt.Sprintf("%s: the body does not match its documented schema: %v\n%.500s", what, err, body)
	}
	return ""
}

// checkContract fails the test when an exchange is not what /openapi.json says. reqBody
// is the JSON body the request sent, nil when it sent none.
func checkContract(t *testing.T, base, method, target string, reqBody []byte, resp *http.Response, body []byte) {
	t.Helper()
	if problem := contractOf(t, base).check(method, target, reqBody, resp.StatusCode, resp.Header, body); problem != "" {
		t.Errorf("OpenAPI contract: %s", problem)
	}
}
