package plugin

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/junctionhq/junction/pkg/pluginkit/abi"
)

// hostFuncs is what the host functions need of the process: the environment the env
// capability reads, and the HTTP client of the http capability.
type hostFuncs struct {
	lookupEnv func(string) (string, bool)
	client    *http.Client
	log       *slog.Logger
}

// maxHTTPAnswer bounds the body of an answer a plugin receives.
const maxHTTPAnswer = 8 << 20

// define instantiates the host module in a plugin's runtime.
func (h *hostFuncs) define(ctx context.Context, rt wazero.Runtime, p *Plugin) error {
	_, err := rt.NewHostModuleBuilder(abi.HostModule).
		NewFunctionBuilder().WithFunc(func(ctx context.Context, m api.Module, ptr, size uint32) uint32 {
		in := p.instanceOf(m)
		req, ok := m.Memory().Read(ptr, size)
		var answer abi.HTTPResponse
		if !ok || in == nil {
			answer.Error = "the request is outside the plugin's memory"
		} else {
			answer = h.fetch(ctx, p, in.deadline, bytes.Clone(req))
		}
		b, _ := json.Marshal(answer)
		if in != nil {
			in.response = b
		}
		return uint32(len(b))
	}).Export(abi.ImportHTTP).
		NewFunctionBuilder().WithFunc(func(_ context.Context, m api.Module, ptr uint32) {
		if in := p.instanceOf(m); in != nil {
			m.Memory().Write(ptr, in.response)
			in.response = nil
		}
	}).Export(abi.ImportTakeResponse).
		NewFunctionBuilder().WithFunc(func(ctx context.Context, m api.Module, level int32, ptr, size uint32) {
		if msg, ok := m.Memory().Read(ptr, min(size, 8<<10)); ok {
			p.log.Log(ctx, slog.Level(level), p.secrets.String(string(msg)))
		}
	}).Export(abi.ImportLog).
		Instantiate(ctx)
	return err
}

func (p *Plugin) instanceOf(m api.Module) *instance {
	v, ok := p.live.Load(m.Name())
	if !ok {
		return nil
	}
	return v.(*instance)
}

// fetch sends a plugin's request if its http capability allows the host, within the
// call's time. Redirects are not followed: the plugin sees the 3xx, and a redirect
// cannot lead it to a host it may not reach.
func (h *hostFuncs) fetch(ctx context.Context, p *Plugin, deadline time.Time, raw []byte) abi.HTTPResponse {
	var req abi.HTTPRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		return abi.HTTPResponse{Error: "the request is not valid: " + err.Error()}
	}
	u, err := url.Parse(req.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return abi.HTTPResponse{Error: fmt.Sprintf("url %q: expected an http:// or https:// URL", req.URL)}
	}
	if !p.allowedHost(u) {
		return abi.HTTPResponse{Error: fmt.Sprintf("plugin %s may not reach %s: its http capability allows %s", p.manifest.Name, u.Host, p.allowedHosts())}
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, strings.ToUpper(req.Method), u.String(), bytes.NewReader(req.Body))
	if err != nil {
		return abi.HTTPResponse{Error: err.Error()}
	}
	for k, v := range req.Header {
		hr.Header.Set(k, v)
	}
	resp, err := h.client.Do(hr)
	if err != nil {
		if ctx.Err() != nil {
			return abi.HTTPResponse{Error: fmt.Sprintf("%s %s: no answer within the call's time limit", hr.Method, u.Redacted())}
		}
		return abi.HTTPResponse{Error: fmt.Sprintf("%s %s: %v", hr.Method, u.Redacted(), unwrapURLError(err))}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxHTTPAnswer+1))
	if err != nil {
		return abi.HTTPResponse{Error: fmt.Sprintf("%s %s: reading the answer: %v", hr.Method, u.Redacted(), err)}
	}
	if len(body) > maxHTTPAnswer {
		return abi.HTTPResponse{Error: fmt.Sprintf("%s %s: the answer is larger than %d MiB", hr.Method, u.Redacted(), maxHTTPAnswer>>20)}
	}
	out := abi.HTTPResponse{Status: resp.StatusCode, Body: body, Header: map[string]string{}}
	for k := range resp.Header {
		out.Header[k] = resp.Header.Get(k)
	}
	return out
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// allowedHost reports whether the http capability names u's host: "name" allows it on
// any port, "name:port" on that port.
func (p *Plugin) allowedHost(u *url.URL) bool {
	c := p.manifest.Capabilities.HTTP
	if c == nil {
		return false
	}
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	for _, a := range c.AllowedHosts {
		a = strings.ToLower(a)
		if h, ap, err := net.SplitHostPort(a); err == nil {
			if strings.Trim(h, "[]") == host && ap == port {
				return true
			}
		} else if strings.Trim(a, "[]") == host {
			return true
		}
	}
	return false
}

func (p *Plugin) allowedHosts() string {
	if p.manifest.Capabilities.HTTP == nil {
		return "no host (it has no http capability)"
	}
	return strings.Join(p.manifest.Capabilities.HTTP.AllowedHosts, ", ")
}

// newHTTPClient is the http capability's client: no redirects, its own connections.
func newHTTPClient() *http.Client {
	return &http.Client{
		Transport: http.DefaultTransport.(*http.Transport).Clone(),
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// randReader gives plugins crypto/rand's randomness (math/rand seeds, UUIDs).
type randReader struct{}

func (randReader) Read(b []byte) (int, error) { return rand.Read(b) }
