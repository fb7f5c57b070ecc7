package plugin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/junctionhq/junction/internal/redact"
	"github.com/junctionhq/junction/pkg/pluginkit/abi"
)

// Plugin is a loaded plugin: its module compiled once, and a pool of instances of it
// that calls share, one call per instance at a time.
type Plugin struct {
	manifest Manifest
	sha256   string
	source   string // SourceAPI or SourceConfig
	log      *slog.Logger
	host     *hostFuncs
	// secrets masks the values of the variables the env capability grants in what the
	// plugin says (its errors, its crash output, its log lines): a plugin that echoes
	// its API key must not put it in a dead letter, a stored error or the log.
	secrets *redact.Scrubber

	runtime   wazero.Runtime
	compiled  wazero.CompiledModule
	functions map[string]uint32 // name → number in junction_call
	hooks     []string

	tokens chan struct{}  // one per instance that may exist
	idle   chan *instance // instances ready for a call
	serial atomic.Int64   // names instances
	live   sync.Map       // instance name → *instance, for the host functions

	calls, errors, nanos atomic.Int64
	metrics              *pluginMetrics // nil: no series
	loadedAt             time.Time
}

// instance is one instantiation of the module: its own memory, one call at a time.
type instance struct {
	name   string
	mod    api.Module
	buffer api.Function
	call   api.Function
	hook   api.Function
	stop   api.MutableGlobal
	stderr *tail
	// deadline is when the running call's time ends, for the host functions.
	deadline time.Time
	// stopped is set when the call's time ran out and the stop global was set.
	stopped atomic.Bool
	// response is the answer of the last http_request, until take_response copies it.
	response []byte
}

// HasFunction reports whether the plugin provides the function.
func (p *Plugin) HasFunction(name string) bool {
	_, ok := p.functions[name]
	return ok
}

// Call runs the function on input (one JSON value) within the plugin's limits and
// returns its output (one JSON value). A failure is a *CallError.
func (p *Plugin) Call(ctx context.Context, function string, input []byte) ([]byte, error) {
	start := time.Now()
	out, err := p.call(ctx, function, input)
	took := time.Since(start)
	p.calls.Add(1)
	p.nanos.Add(int64(took))
	if err != nil {
		p.errors.Add(1)
		if ce, ok := err.(*CallError); ok {
			ce.Msg = p.secrets.String(ce.Msg)
		}
	}
	p.metrics.observe(function, took, err)
	return out, err
}

func (p *Plugin) call(ctx context.Context, function string, input []byte) ([]byte, error) {
	fn, ok := p.functions[function]
	if !ok {
		return nil, &CallError{Plugin: p.manifest.Name, Function: function, Kind: KindError, Permanent: true,
			Msg: fmt.Sprintf("the plugin has no function %q (it has %s)", function, strings.Join(p.manifest.Functions, ", "))}
	}
	if len(input) > abi.MaxLength {
		return nil, &CallError{Plugin: p.manifest.Name, Function: function, Kind: KindError, Permanent: true, Msg: "the input is too large"}
	}
	in, err := p.acquire(ctx)
	if err != nil {
		return nil, &CallError{Plugin: p.manifest.Name, Function: function, Kind: KindUnavailable, Msg: err.Error()}
	}
	out, status, err := in.run(ctx, p.manifest.Limits.timeout(), func(ctx context.Context) (uint64, error) {
		r, err := in.buffer.Call(ctx, uint64(len(input)))
		if err != nil {
			return 0, err
		}
		if !in.mod.Memory().Write(uint32(r[0]), input) {
			return 0, errors.New("the plugin's input buffer is outside its memory")
		}
		r, err = in.call.Call(ctx, uint64(fn), uint64(len(input)))
		if err != nil {
			return 0, err
		}
		return r[0], nil
	})
	if err != nil {
		p.discard(in)
		return nil, p.failure(function, in, err)
	}
	p.release(in)
	switch status {
	case abi.StatusOK:
		return out, nil
	case abi.StatusPermanent:
		return nil, &CallError{Plugin: p.manifest.Name, Function: function, Kind: KindError, Msg: sandboxHint(string(out)), Permanent: true}
	}
	return nil, &CallError{Plugin: p.manifest.Name, Function: function, Kind: KindError, Msg: sandboxHint(string(out))}
}

// run calls into the instance with the time limit: past it, the stop global is set and
// the module traps at its next loop iteration. It returns a copy of the output.
func (in *instance) run(ctx context.Context, limit time.Duration, call func(context.Context) (uint64, error)) ([]byte, uint32, error) {
	in.deadline = time.Now().Add(limit)
	in.stopped.Store(false)
	in.stderr.reset()
	timer := time.AfterFunc(limit, func() {
		in.stopped.Store(true)
		in.stop.Set(1)
	})
	r, err := call(ctx)
	if !timer.Stop() || err != nil {
		if err == nil {
			err = errTimeUp // the timer fired as the call returned
		}
		return nil, 0, err
	}
	ptr, n, status := abi.Result(r).Unpack()
	out, ok := in.mod.Memory().Read(ptr, n)
	if !ok {
		return nil, 0, errors.New("the plugin's output is outside its memory")
	}
	return append([]byte(nil), out...), status, nil
}

var errTimeUp = errors.New("time limit reached")

// failure explains why a call into the module failed: its time limit, its memory, or
// a crash, with the first line of what the Go runtime of the plugin printed.
func (p *Plugin) failure(function string, in *instance, err error) *CallError {
	ce := &CallError{Plugin: p.manifest.Name, Function: function}
	said := in.stderr.fatal()
	switch {
	case in.stopped.Load():
		ce.Kind, ce.Msg = KindTimeout, fmt.Sprintf("stopped after its time limit of %s", p.manifest.Limits.timeout())
	case strings.Contains(said, "out of memory"):
		ce.Kind, ce.Msg = KindMemory, fmt.Sprintf("ran out of memory (limit %d MiB per instance): %s", p.manifest.Limits.memoryMB(), said)
	default:
		ce.Kind, ce.Msg = KindTrap, "crashed: "+firstLine(err.Error())
		if said != "" {
			ce.Msg += ": " + said
		}
	}
	return ce
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// acquire takes an idle instance, or makes one when fewer than the limit exist, or
// waits for one.
func (p *Plugin) acquire(ctx context.Context) (*instance, error) {
	select {
	case <-p.tokens:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case in := <-p.idle:
		return in, nil
	default:
	}
	in, err := p.instantiate(ctx)
	if err != nil {
		p.tokens <- struct{}{}
		return nil, err
	}
	return in, nil
}

func (p *Plugin) release(in *instance) {
	p.idle <- in
	p.tokens <- struct{}{}
}

// discard closes an instance a failed call may have damaged; the next call makes a new
// one.
func (p *Plugin) discard(in *instance) {
	p.live.Delete(in.name)
	_ = in.mod.Close(context.Background())
	p.tokens <- struct{}{}
}

// initLimitMin is the least time an instance's initialisation may take. It runs when a
// call finds no idle instance, so it is not the call's own work: on a loaded machine a Go
// runtime's start (with the race detector, beside a sibling instance looping to its limit)
// took more than a 500 ms call limit, and the call failed for it.
const initLimitMin = 10 * time.Second

// instantiate makes an instance and runs the Go runtime's initialisation
// (_initialize), bounded by the call time limit or initLimitMin, whichever is longer:
// a module whose initialisation never ends fails its call all the same.
func (p *Plugin) instantiate(ctx context.Context) (*instance, error) {
	in := &instance{name: p.manifest.Name + "-" + strconv.FormatInt(p.serial.Add(1), 10), stderr: &tail{}}
	cfg := wazero.NewModuleConfig().WithName(in.name).WithStartFunctions().
		WithStderr(in.stderr).WithSysWalltime().WithSysNanotime().WithRandSource(randReader{})
	for _, name := range p.manifest.Capabilities.Env {
		if v, ok := p.host.lookupEnv(name); ok {
			cfg = cfg.WithEnv(name, v)
		}
	}
	mod, err := p.runtime.InstantiateModule(ctx, p.compiled, cfg)
	if err != nil {
		return nil, fmt.Errorf("instantiating the module: %w", err)
	}
	in.mod = mod
	in.buffer, in.call, in.hook = mod.ExportedFunction(abi.ExportBuffer), mod.ExportedFunction(abi.ExportCall), mod.ExportedFunction(abi.ExportHook)
	in.stop, _ = mod.ExportedGlobal(stopGlobal).(api.MutableGlobal)
	initialize := mod.ExportedFunction("_initialize")
	if in.buffer == nil || in.call == nil || in.hook == nil || in.stop == nil || initialize == nil {
		_ = mod.Close(ctx)
		return nil, errors.New("the module is not a Junction plugin: build it with the plugin kit (pkg/pluginkit) as GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared")
	}
	p.live.Store(in.name, in)
	limit := max(p.manifest.Limits.timeout(), initLimitMin)
	if _, _, err := in.run(ctx, limit, func(ctx context.Context) (uint64, error) {
		_, err := initialize.Call(ctx)
		return 0, err
	}); err != nil {
		p.live.Delete(in.name)
		_ = mod.Close(ctx)
		ce := p.failure("_initialize", in, err)
		if ce.Kind == KindTimeout {
			ce.Msg = fmt.Sprintf("did not finish within %s", limit)
		}
		return nil, fmt.Errorf("initialising the module: %v", p.secrets.String(ce.Msg))
	}
	return in, nil
}

// runHook runs a hook the plugin has, in one instance.
func (p *Plugin) runHook(ctx context.Context, hook uint32) error {
	name := abi.HookNames[hook]
	if !containsString(p.hooks, name) {
		return nil
	}
	in, err := p.acquire(ctx)
	if err != nil {
		return err
	}
	out, status, err := in.run(ctx, p.manifest.Limits.timeout(), func(ctx context.Context) (uint64, error) {
		r, err := in.hook.Call(ctx, uint64(hook))
		if err != nil {
			return 0, err
		}
		return r[0], nil
	})
	if err != nil {
		p.discard(in)
		return fmt.Errorf("%s: %s", name, p.failure(name, in, err).Msg)
	}
	p.release(in)
	if status != abi.StatusOK {
		return fmt.Errorf("%s: %s", name, out)
	}
	return nil
}

// close closes every instance and the runtime; calls still waiting fail.
func (p *Plugin) close(ctx context.Context) {
	_ = p.runtime.Close(ctx)
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// tail keeps the start of what an instance wrote to stderr during its current call:
// the Go runtime of a plugin prints there why it died ("fatal error: out of memory"),
// before the goroutine dump.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

const tailSize = 4 << 10

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if room := tailSize - len(t.buf); room > 0 {
		t.buf = append(t.buf, b[:min(room, len(b))]...)
	}
	return len(b), nil
}

func (t *tail) reset() {
	t.mu.Lock()
	t.buf = t.buf[:0]
	t.mu.Unlock()
}

// fatal is the line of a fatal error or panic the instance printed, if any.
func (t *tail) fatal() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	for line := range strings.SplitSeq(string(t.buf), "\n") {
		if strings.HasPrefix(line, "fatal error:") || strings.HasPrefix(line, "panic:") || strings.HasPrefix(line, "runtime: out of memory") {
			return line
		}
	}
	return ""
}
