// Command sandbox is a plugin for the sandbox's tests: each function does one thing a
// plugin may or may not do.
package main

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/junctionhq/junction/pkg/pluginkit"
)

var (
	started bool
	hoard   [][]byte
)

type fetchInput struct {
	URL string `json:"url"`
}

func init() {
	pluginkit.Register("echo", func(in []byte) ([]byte, error) { return in, nil })
	pluginkit.Handle("upper", func(s string) (string, error) { return strings.ToUpper(s), nil })
	pluginkit.Register("loop", func([]byte) ([]byte, error) {
		for {
		}
	})
	pluginkit.Register("hoard", func([]byte) ([]byte, error) {
		for {
			hoard = append(hoard, make([]byte, 8<<20))
		}
	})
	pluginkit.Register("read_file", func([]byte) ([]byte, error) {
		_, err := os.ReadFile("/etc/hostname")
		return []byte(`"read"`), err
	})
	pluginkit.Register("dial", func([]byte) ([]byte, error) {
		c, err := net.Dial("tcp", "127.0.0.1:5432")
		if err == nil {
			c.Close()
		}
		return []byte(`"connected"`), err
	})
	pluginkit.Handle("env", func(name string) (string, error) { return os.Getenv(name), nil })
	pluginkit.Handle("leak", func(name string) (string, error) {
		pluginkit.Log(slog.LevelWarn, "about to fail with "+os.Getenv(name))
		return "", errors.New("the upstream refused key " + os.Getenv(name))
	})
	pluginkit.Handle("fetch", func(in fetchInput) (map[string]any, error) {
		resp, err := pluginkit.Fetch(pluginkit.Request{URL: in.URL})
		if err != nil {
			return nil, err
		}
		return map[string]any{"status": resp.Status, "body": string(resp.Body)}, nil
	})
	pluginkit.Register("panic", func([]byte) ([]byte, error) { panic("something broke") })
	pluginkit.Register("invalid", func([]byte) ([]byte, error) { return nil, pluginkit.Permanent(errors.New("the input is not an order")) })
	pluginkit.Handle("started", func(any) (bool, error) { return started, nil })
	pluginkit.OnStartup(func() error { started = true; return nil })
	pluginkit.OnShutdown(func() error {
		if url := os.Getenv("SHUTDOWN_URL"); url != "" {
			_, err := pluginkit.Fetch(pluginkit.Request{Method: "POST", URL: url})
			return err
		}
		return nil
	})
}

func main() {}
