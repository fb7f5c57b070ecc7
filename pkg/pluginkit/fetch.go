package pluginkit

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/junctionhq/junction/pkg/pluginkit/abi"
)

// Request is an HTTP request a plugin sends with Fetch.
type Request struct {
	Method string            // GET when empty
	URL    string            // http:// or https://, to a host the http capability names
	Header map[string]string // request headers
	Body   []byte
}

// Response is the answer to a Request: any status, 4xx and 5xx included.
type Response struct {
	Status int
	Header map[string]string // the answer's headers, the first value of each
	Body   []byte
}

// ErrNotInJunction is what Fetch returns outside Junction (a plugin's functions tested
// with go test): there is no host to send the request.
var ErrNotInJunction = errors.New("pluginkit: Fetch works only in a plugin run by Junction")

// Fetch sends req through Junction, which allows it only to the hosts the plugin's http
// capability names, bounds it by the call's time limit and follows no redirect. An
// error means no answer came; an answer of any status is a Response.
func Fetch(req Request) (Response, error) {
	if req.Method == "" {
		req.Method = "GET"
	}
	in, err := json.Marshal(abi.HTTPRequest{Method: req.Method, URL: req.URL, Header: req.Header, Body: req.Body})
	if err != nil {
		return Response{}, err
	}
	raw, err := hostHTTP(in)
	if err != nil {
		return Response{}, err
	}
	var out abi.HTTPResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		return Response{}, fmt.Errorf("pluginkit: reading the answer: %w", err)
	}
	if out.Error != "" {
		return Response{}, errors.New(out.Error)
	}
	return Response{Status: out.Status, Header: out.Header, Body: out.Body}, nil
}

// Log writes msg to Junction's log at level, with the plugin's name.
func Log(level slog.Level, msg string) { hostLog(int32(level), msg) }
