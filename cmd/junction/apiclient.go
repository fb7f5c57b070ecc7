package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/junctionhq/junction/internal/app"
	"github.com/junctionhq/junction/internal/tlsfiles"
)

// serverHelp ends the help of every command that talks to a running server.
const serverHelp = `The server is --server (env JUNCTION_URL, default http://127.0.0.1:8080) and the token
--token (env JUNCTION_TOKEN). Over https, --ca-cert (env JUNCTION_CA_CERT) names the CA the
server's certificate must chain to when it is not a system one, and --client-cert and
--client-key (env JUNCTION_CLIENT_CERT, JUNCTION_CLIENT_KEY) a client certificate, in place
of a token, for a server started with --tls-client-ca.`

// apiClientOptions are the flags of a command that talks to a running server.
type apiClientOptions struct {
	server, token                 string
	caCert, clientCert, clientKey string
}

// add gives cmd's flag set (persistent ones reach subcommands) the flags.
func (o *apiClientOptions) add(f interface {
	StringVar(p *string, name, value, usage string)
}) {
	f.StringVar(&o.server, "server", "", "Junction server URL, or HOST:PORT for http:// (env JUNCTION_URL)")
	f.StringVar(&o.token, "token", "", "API token (env JUNCTION_TOKEN)")
	// Not --tls-cert/--tls-key and JUNCTION_TLS_*: those are serve's own certificate, and
	// a shell that starts a server must not make every command present it as a client.
	f.StringVar(&o.caCert, "ca-cert", "", "PEM CA file the server's certificate must chain to (env JUNCTION_CA_CERT)")
	f.StringVar(&o.clientCert, "client-cert", "", "PEM client certificate file, with --client-key (env JUNCTION_CLIENT_CERT)")
	f.StringVar(&o.clientKey, "client-key", "", "PEM key file of --client-cert (env JUNCTION_CLIENT_KEY)")
}

// client makes the API client the flags and environment describe; TLS files are read
// now, so a bad one is reported before any request, naming the file.
func (o *apiClientOptions) client() (app.APIClient, error) {
	c := app.APIClient{
		BaseURL: cmp.Or(o.server, os.Getenv("JUNCTION_URL"), "http://"+app.AddrDefault),
		Token:   cmp.Or(o.token, os.Getenv("JUNCTION_TOKEN")),
	}
	files := tlsfiles.Client{
		CA:   cmp.Or(o.caCert, os.Getenv("JUNCTION_CA_CERT")),
		Cert: cmp.Or(o.clientCert, os.Getenv("JUNCTION_CLIENT_CERT")),
		Key:  cmp.Or(o.clientKey, os.Getenv("JUNCTION_CLIENT_KEY")),
	}
	if files == (tlsfiles.Client{}) {
		return c, nil
	}
	cfg, err := tlsfiles.ClientConfig(files)
	if err != nil {
		return c, err
	}
	c.HTTP = clientWithTLS(cfg)
	return c, nil
}

// clientWithTLS is an HTTP client like the API client's default one, with cfg. It has
// no overall timeout: `tail` and `--follow` answers last as long as the watch, and
// requests that must end are bounded by their commands' contexts.
func clientWithTLS(cfg *tls.Config) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = cfg
	t.ResponseHeaderTimeout = 90 * time.Second
	return &http.Client{Transport: t}
}

// apiClientFlags gives cmd and its subcommands the flags of apiClientOptions, and
// returns the client they make.
func apiClientFlags(cmd *cobra.Command) func() (app.APIClient, error) {
	o := new(apiClientOptions)
	o.add(cmd.PersistentFlags())
	return o.client
}

// untilInterrupted is the context of a command that watches until Ctrl-C (or SIGTERM),
// after which it ends normally.
func untilInterrupted(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
}
