package integration

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/junctionhq/junction/internal/config"
)

// The response contract (B14): a successful answer is compared with the operation's
// declared `returns` shape. A mismatch means the upstream API has drifted from what the
// configuration expects; it is counted and shown in health, but the call still succeeds,
// because the caller may not depend on the part that changed.
//
// Rules: declared members must be present unless written `optional` (null is accepted
// for any member, since APIs commonly send null for an absent value); members not declared are fine; lists are
// checked on their first maxContractItems items; at most maxMismatches are reported.

const (
	maxContractItems = 100
	maxMismatches    = 10
)

// checkContract returns the ways body differs from the declared shape.
func checkContract(returns *config.Type, body []byte) []string {
	if returns == nil || returns.Kind == config.KindBinary || returns.Kind == config.KindVoid {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return []string{"body is not JSON"}
	}
	c := &contract{}
	c.check("$", returns, v)
	return c.mismatches
}

type contract struct{ mismatches []string }

func (c *contract) add(path, format string, args ...any) {
	if len(c.mismatches) < maxMismatches {
		c.mismatches = append(c.mismatches, path+": "+fmt.Sprintf(format, args...))
	}
}

func (c *contract) check(path string, t *config.Type, v any) {
	if v == nil || len(c.mismatches) >= maxMismatches {
		return
	}
	switch t.Kind {
	case config.KindObject:
		obj, ok := v.(map[string]any)
		if !ok {
			c.add(path, "expected an object, found %s", describeValue(v))
			return
		}
		for _, f := range t.Fields {
			member, present := obj[f.Name]
			if !present {
				if !f.Optional { // `optional`: the API leaves it out at times (S3's Contents of an empty listing)
					c.add(path+"."+f.Name, "missing")
				}
				continue
			}
			c.check(path+"."+f.Name, f.Type, member)
		}
	case config.KindList:
		list, ok := v.([]any)
		if !ok {
			c.add(path, "expected a list, found %s", describeValue(v))
			return
		}
		for i, item := range list {
			if i >= maxContractItems {
				break
			}
			c.check(fmt.Sprintf("%s[%d]", path, i), t.Elem, item)
		}
	case config.KindEnum, config.KindScalar:
		if t.Kind == config.KindScalar && (t.Name == "timestamp" || t.Name == "date") {
			// Timestamps arrive as strings or as epoch numbers; both are fine.
			if _, isNum := number(v); isNum {
				return
			}
		}
		if msg := checkType(t, v); msg != "" {
			c.add(path, "%s", msg)
		}
	}
}
