package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/junctionhq/junction/internal/app"
	"github.com/junctionhq/junction/internal/report"
	"github.com/junctionhq/junction/internal/server"
	"github.com/junctionhq/junction/internal/telemetry"
	"github.com/junctionhq/junction/internal/webhook"
)

func newServeCommand() *cobra.Command {
	var (
		configs         []string
		logFormat       string
		logLevel        string
		shutdownTimeout = server.DefaultShutdownTimeout
	)
	cmd := &cobra.Command{
		Use:   "serve [-c FILE]... [--addr HOST:PORT]",
		Short: "Run the Junction server",
		Long: `Run the Junction server: the HTTP API, /healthz, /readyz and /metrics.

On start it loads the configuration, applies pending storage migrations and, when no API
token exists yet, creates an admin token and prints it once on stderr.

Signals: SIGINT or SIGTERM stop it gracefully (in-flight requests get --shutdown-timeout to
finish); SIGHUP reloads the configuration files (a file with errors is rejected and the
running configuration kept) and re-reads the --tls-cert/--tls-key pair and --tls-client-ca
(a bad new pair is logged and the one in force kept).

With --tls-cert and --tls-key the API answers HTTPS only. With --tls-client-ca as well, a
client may present a certificate signed by that CA instead of a bearer token: the
certificate's subject CN must be the name of exactly one active API token, whose role it
gets (make one with 'junction token create --name CN --role user'; revoking the token
ends the certificate's access). Bearer tokens and the console keep working.

An integration whose env(NAME) references are unset or empty starts as "misconfigured": it
is listed by GET /integrations/status with the reason and is never called.`,
		Example: `  junction serve -c examples/quickstart.cai
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/test junction serve --addr 127.0.0.1:9090
  junction serve --tls-cert server.crt --tls-key server.key --tls-client-ca clients-ca.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := telemetry.NewLogger(os.Stderr, logFormat, logLevel)
			if err != nil {
				return err
			}
			var retention time.Duration
			if v := fromEnv(cmd, "report-retention", "JUNCTION_REPORT_RETENTION"); v != "" {
				if retention, err = report.ParseDuration(v); err != nil || retention <= 0 {
					return fmt.Errorf("--report-retention: expected a duration greater than zero such as 30d or 720h, found %q", v)
				}
			}
			eventRetention := webhook.EventRetentionDefault
			if v := fromEnv(cmd, "event-retention", "JUNCTION_EVENT_RETENTION"); v != "" {
				if eventRetention, err = parseEventRetention(v); err != nil {
					return err
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer func() {
				signal.Stop(hup) // before close: the signal package must not send on a closed channel
				close(hup)
			}()
			reload := make(chan struct{}, 1)
			go func() {
				for range hup {
					select {
					case reload <- struct{}{}:
					default: // a reload is already pending
					}
				}
			}()
			var ttl, renew time.Duration
			for _, d := range []struct {
				flag, env string
				dst       *time.Duration
			}{{"lease-ttl", "JUNCTION_LEASE_TTL", &ttl}, {"lease-renew", "JUNCTION_LEASE_RENEW", &renew}} {
				if v := fromEnv(cmd, d.flag, d.env); v != "" {
					if *d.dst, err = time.ParseDuration(v); err != nil || *d.dst <= 0 {
						return fmt.Errorf("--%s: expected a duration greater than zero such as 15s, found %q", d.flag, v)
					}
				}
			}
			return app.Serve(ctx, app.Options{
				ConfigPaths:     configPaths(cmd, configs),
				DatabaseURL:     fromEnv(cmd, "database-url", "DATABASE_URL"),
				RedisURL:        fromEnv(cmd, "redis-url", "REDIS_URL"),
				RedisTLS:        redisTLS(cmd),
				Addr:            fromEnv(cmd, "addr", "JUNCTION_ADDR"),
				ShutdownTimeout: shutdownTimeout,
				ReportRetention: retention,
				EventRetention:  eventRetention,
				Logger:          logger,
				Stderr:          os.Stderr,
				LookupEnv:       os.LookupEnv,
				Reload:          reload,
				Version:         versionName(),
				TLSCert:         fromEnv(cmd, "tls-cert", "JUNCTION_TLS_CERT"),
				TLSKey:          fromEnv(cmd, "tls-key", "JUNCTION_TLS_KEY"),
				TLSClientCA:     fromEnv(cmd, "tls-client-ca", "JUNCTION_TLS_CLIENT_CA"),
				NodeID:          fromEnv(cmd, "node-id", "JUNCTION_NODE_ID"),
				AdvertiseAddr:   fromEnv(cmd, "advertise-addr", "JUNCTION_ADVERTISE_ADDR"),
				LeaseTTL:        ttl,
				LeaseRenew:      renew,
			})
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&configs, "config", "c", nil, "configuration file; repeat for several (env JUNCTION_CONFIG, ':'-separated)")
	f.String("addr", "", "listen address (env JUNCTION_ADDR; default "+app.AddrDefault+")")
	addRedisFlags(cmd, "the state nodes share: circuits, rate limits, cache, delivery concurrency")
	addDatabaseFlag(cmd)
	f.String("tls-cert", "", "serve HTTPS with this PEM certificate (chain) file; re-read on SIGHUP (env JUNCTION_TLS_CERT)")
	f.String("tls-key", "", "the PEM private key of --tls-cert (env JUNCTION_TLS_KEY)")
	f.String("tls-client-ca", "", "accept client certificates signed by this PEM CA instead of a bearer token; the subject CN names the API token (env JUNCTION_TLS_CLIENT_CA)")
	f.String("node-id", "", "this node's id among the nodes sharing the database (env JUNCTION_NODE_ID; default host name and a random suffix)")
	f.String("advertise-addr", "", "the address GET /cluster shows for this node (env JUNCTION_ADVERTISE_ADDR; default the listen address)")
	f.String("lease-ttl", "", "how long a node's leases and heartbeat outlive it: a dead node's duties move within it (env JUNCTION_LEASE_TTL; default 15s)")
	f.String("lease-renew", "", "how often a node heartbeats and renews its leases (env JUNCTION_LEASE_RENEW; default a third of --lease-ttl)")
	f.String("report-retention", "", "how long the usage reports' per-minute data is kept, such as 30d (env JUNCTION_REPORT_RETENTION; default 30d)")
	f.String("event-retention", "", "how long events and finished webhook deliveries are kept, such as 7d; 0 keeps them forever (env JUNCTION_EVENT_RETENTION; default 7d)")
	f.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.DurationVar(&shutdownTimeout, "shutdown-timeout", shutdownTimeout, "how long in-flight requests may take to finish on shutdown")
	return cmd
}

// parseEventRetention reads --event-retention: a duration such as 7d or 168h, or 0 to
// keep events forever.
func parseEventRetention(v string) (time.Duration, error) {
	d, err := report.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("--event-retention: expected a duration such as 7d or 168h, or 0 to keep events forever, found %q", v)
	}
	return d, nil
}
