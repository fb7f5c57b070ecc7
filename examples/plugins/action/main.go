// Command action is an example plugin with the http capability: notify posts what it
// is given to the URL in NOTIFY_URL (a variable of its env capability), on a host its
// http capability allows, as a workflow step (plugin "notifier.notify") or an event
// handler's action (on "order.created" do plugin "notifier.notify").
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o notifier.wasm ./examples/plugins/action
//	junction plugin register notifier.wasm --manifest examples/plugins/action/manifest.json
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/junctionhq/junction/pkg/pluginkit"
)

type result struct {
	Status int    `json:"status"`
	Answer string `json:"answer"`
}

func init() {
	pluginkit.Register("notify", func(input []byte) ([]byte, error) {
		url := os.Getenv("NOTIFY_URL")
		if url == "" {
			return nil, pluginkit.Permanent(errors.New("NOTIFY_URL is not set (grant it with the env capability)"))
		}
		resp, err := pluginkit.Fetch(pluginkit.Request{
			Method: "POST", URL: url, Body: input,
			Header: map[string]string{"Content-Type": "application/json"},
		})
		if err != nil {
			return nil, err // no answer: the call may be retried
		}
		if resp.Status >= 500 {
			return nil, fmt.Errorf("the receiver answered %d", resp.Status)
		}
		return json.Marshal(result{Status: resp.Status, Answer: string(resp.Body)})
	})
	pluginkit.OnStartup(func() error {
		pluginkit.Log(slog.LevelInfo, "notifier ready")
		return nil
	})
}

func main() {} // not run: Junction calls the registered functions
