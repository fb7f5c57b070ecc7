package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/junctionhq/junction/internal/app"
	"github.com/junctionhq/junction/internal/integration"
	"github.com/junctionhq/junction/internal/telemetry"
)

func newCallCommand() *cobra.Command {
	var (
		configs        []string
		timeout        time.Duration
		bodyFile       string
		idempotencyKey string
		include        bool
		logLevel       string
	)
	cmd := &cobra.Command{
		Use:   "call INTEGRATION OPERATION [key=value | key:=JSON]...",
		Short: "Call an integration's operation from the command line, without a server",
		Long: `Call one operation in-process with every policy of its integration (auth, retry, circuit
breaker, rate limit, cache, fallback, idempotency), exactly as the gateway's
POST /integrations/{name}/operations/{op} does. The upstream's body goes to stdout.

Parameters are key=value, converted to the type the operation declares (integer,
decimal, boolean; lists and json as JSON), or key:=JSON for any JSON value. A binary
operation's body comes from --body-file (- for stdin).

Exit status: 0 when the upstream answered with a success status; 1 for an upstream
error status or a failure of Junction's own (printed on stderr).`,
		Example: `  junction call -c examples/quickstart.cai Weather forecast latitude=52.52 longitude=13.41
  junction call -c integrations.cai GitHubAPI create_issue owner=acme repo=app title="Broken" labels:='["bug"]'`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			logger, err := telemetry.NewLogger(os.Stderr, "text", logLevel)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			var cancel context.CancelFunc = func() {}
			if timeout > 0 {
				ctx, cancel = context.WithTimeout(ctx, timeout)
			}
			defer cancel()
			code := app.Call(ctx, app.CallOptions{
				ConfigPaths: configPaths(cmd, configs), RedisURL: fromEnv(cmd, "redis-url", "REDIS_URL"), RedisTLS: redisTLS(cmd),
				LookupEnv: os.LookupEnv, Logger: logger,
				Integration: args[0], Operation: args[1], Args: args[2:],
				BodyFile: bodyFile, IdempotencyKey: idempotencyKey, Include: include,
				Stdin: cmd.InOrStdin(), Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr(),
			})
			if code != 0 {
				return exitError{code: code}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&configs, "config", "c", nil, "configuration file; repeat for several (env JUNCTION_CONFIG, ':'-separated)")
	addRedisFlags(cmd, "shared rate limits, cache and circuits")
	f.DurationVar(&timeout, "timeout", 0, "deadline for the whole call, retries and waits included (default "+integration.DeadlineDefault.String()+")")
	f.StringVar(&bodyFile, "body-file", "", "raw body of a body_type: binary operation; - reads stdin")
	f.StringVar(&idempotencyKey, "idempotency-key", "", "pass this key instead of a generated one")
	f.BoolVarP(&include, "include", "i", false, "print the status and headers before the body")
	f.StringVar(&logLevel, "log-level", "warn", "log level on stderr: debug, info, warn or error")
	return cmd
}
