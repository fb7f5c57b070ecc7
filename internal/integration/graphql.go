package integration

import (
	"bytes"
	"encoding/json"
)

// graphqlErrors returns the `errors` array of a GraphQL response, if it has one that is
// not empty. GraphQL reports failures with HTTP 200 and an errors array; Junction
// surfaces them as failures of the call so callers cannot mistake them for success.
func graphqlErrors(body []byte) ([]any, bool) {
	var resp struct {
		Errors []any `json:"errors"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&resp); err != nil || len(resp.Errors) == 0 {
		return nil, false
	}
	return resp.Errors, true
}
