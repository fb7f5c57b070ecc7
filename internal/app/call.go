package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/integration"
	"github.com/junctionhq/junction/internal/tlsfiles"
)

// CallOptions configure Call.
type CallOptions struct {
	ConfigPaths []string
	RedisURL    string
	RedisTLS    tlsfiles.Client // see Options.RedisTLS
	LookupEnv   config.LookupEnv
	Logger      *slog.Logger
	Integration string
	Operation   string
	// Args are the parameters: key=value (converted to the declared type) or key:=JSON.
	Args           []string
	BodyFile       string // raw body of a binary operation; "-" is stdin
	IdempotencyKey string
	Include        bool // print status and headers before the body
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Call runs one operation in-process, with every policy of its integration, exactly as
// the gateway would, and prints the upstream's body on stdout. It returns the process
// exit status: 0 for a success status, 1 for an upstream error status or a failure of
// Junction's own (printed as a problem on stderr).
func Call(ctx context.Context, o CallOptions) int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(o.Stderr, "junction call: "+format+"\n", args...)
		return 1
	}
	if len(o.ConfigPaths) == 0 {
		return fail("%v", errNoConfiguration)
	}
	cfg, err := loadConfig(o.ConfigPaths, o.Logger)
	if err != nil {
		return fail("%v", err)
	}
	cfg = onlyIntegration(cfg, o.Integration)
	rdb, err := openRedis(ctx, o.RedisURL, o.RedisTLS)
	if err != nil {
		return fail("%v", err)
	}
	if rdb != nil {
		defer rdb.Close()
	}
	metrics, err := integration.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		return fail("%v", err)
	}
	rt, err := integration.New(cfg, integration.Options{LookupEnv: o.LookupEnv, Logger: o.Logger, Metrics: metrics, Redis: rdb})
	if err != nil {
		return fail("%v", err)
	}
	defer rt.Close()
	op, ok := rt.Operation(o.Integration, o.Operation)
	if !ok {
		return fail("no operation %s.%s in %s", o.Integration, o.Operation, strings.Join(o.ConfigPaths, ", "))
	}
	params, err := parseArgs(op, o.Args)
	if err != nil {
		return fail("%v", err)
	}
	co := integration.CallOptions{IdempotencyKey: o.IdempotencyKey}
	if o.BodyFile != "" {
		if co.Body, err = readBodyFile(o.BodyFile, o.Stdin); err != nil {
			return fail("%v", err)
		}
	}
	res, err := rt.Call(ctx, o.Integration, o.Operation, params, co)
	if err != nil {
		var e *integration.Error
		if errors.As(err, &e) {
			printCallError(o.Stderr, e)
			return 1
		}
		return fail("%v", err)
	}
	if o.Include {
		fmt.Fprintf(o.Stdout, "HTTP %d\n", res.Status)
		names := make([]string, 0, len(res.Header))
		for k := range res.Header {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			fmt.Fprintf(o.Stdout, "%s: %s\n", k, strings.Join(res.Header[k], ", "))
		}
		fmt.Fprintf(o.Stdout, "X-Junction-Attempts: %d\nX-Junction-Cache: %s\nX-Junction-Circuit: %s\n\n", res.Attempts, res.Cache, res.Circuit)
	}
	o.Stdout.Write(res.Body)
	if len(res.Body) > 0 && res.Body[len(res.Body)-1] != '\n' {
		fmt.Fprintln(o.Stdout)
	}
	if res.Status >= 400 {
		fmt.Fprintf(o.Stderr, "junction call: upstream answered %d\n", res.Status)
		return 1
	}
	return 0
}

// errNoConfiguration is what commands that read a configuration say without one, rather
// than reporting the operation or connector they were asked for as missing from it.
var errNoConfiguration = errors.New("no configuration given: pass -c FILE (or set JUNCTION_CONFIG)")

// onlyIntegration is cfg with no integration but the one named: a call compiles only
// what it uses, so it warns about that integration's missing secrets and not about the
// others'.
func onlyIntegration(cfg *config.Config, name string) *config.Config {
	only := *cfg
	only.Integrations = nil
	if in := cfg.Integration(name); in != nil {
		only.Integrations = []*config.Integration{in}
	}
	return &only
}

// parseArgs reads key=value (typed by the operation's declaration) and key:=JSON.
func parseArgs(op integration.OperationInfo, args []string) (map[string]any, error) {
	strs := map[string]string{}
	raw := map[string]any{}
	for _, a := range args {
		if k, v, ok := strings.Cut(a, ":="); ok && k != "" && !strings.Contains(k, "=") {
			var x any
			dec := json.NewDecoder(strings.NewReader(v))
			dec.UseNumber()
			if err := dec.Decode(&x); err != nil {
				return nil, fmt.Errorf("%s:= expects JSON, found %q", k, v)
			}
			raw[k] = x
			continue
		}
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("argument %q: expected key=value or key:=JSON", a)
		}
		strs[k] = v
	}
	params, err := op.ParamsFromStrings(strs)
	if err != nil {
		return nil, err
	}
	for k, v := range raw {
		params[k] = v
	}
	return params, nil
}

func readBodyFile(path string, stdin io.Reader) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(io.LimitReader(stdin, integration.MaxResponseBytesDefault))
	}
	return os.ReadFile(path)
}

// printCallError renders a failure of Junction's own the way the API's problem says it.
func printCallError(w io.Writer, e *integration.Error) {
	fmt.Fprintf(w, "junction call: %s: %s\n", e.Kind, e.Error())
	for _, p := range e.Params {
		fmt.Fprintf(w, "  %s: %s\n", p.Param, p.Detail)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(w, "  retry after %s\n", e.RetryAfter)
	}
	if len(e.GraphQL) > 0 {
		b, _ := json.MarshalIndent(e.GraphQL, "  ", "  ")
		fmt.Fprintf(w, "  graphql errors: %s\n", b)
	}
}
