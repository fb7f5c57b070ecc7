package nats

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/option"
)

// Kind returns the nats connector type.
func Kind() connector.Kind {
	return connector.Kind{
		Name: "nats",
		Spec: spec,
		NewSource: func(s connector.Settings) (connector.Source, error) {
			return newSource(s)
		},
		NewSink: func(s connector.Settings) (connector.Sink, error) {
			return newSink(s)
		},
		Check: check,
	}
}

// check connects and asks JetStream for the account's information, so a server
// without JetStream fails too. It creates nothing.
func check(ctx context.Context, s connector.Settings) error {
	o, err := readOptions(s, option.Alone)
	if err != nil {
		return err
	}
	nc, js, err := connect(ctx, o)
	if err != nil {
		return err
	}
	defer nc.Close()
	ctx, cancel := withTimeout(ctx, requestTimeout)
	defer cancel()
	if _, err := js.AccountInfo(ctx); err != nil {
		return fmt.Errorf("nats at %s: JetStream: %w", o.where, err)
	}
	return nil
}

// dialer remembers why the last dial failed: nats.Connect itself only says "no servers
// available for connection".
type dialer struct {
	mu   sync.Mutex
	last error
}

func (d *dialer) Dial(network, address string) (net.Conn, error) {
	nd := net.Dialer{Timeout: dialTimeout}
	c, err := nd.Dial(network, address)
	if err != nil {
		d.mu.Lock()
		d.last = err
		d.mu.Unlock()
	}
	return c, err
}

func (d *dialer) lastErr() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.last
}

// connect opens a connection that reconnects for ever (JetStream state lives on the
// server, so nothing is lost meanwhile) and a JetStream handle on it.
func connect(ctx context.Context, o *options) (*natsgo.Conn, jetstream.JetStream, error) {
	d := &dialer{}
	timeout := dialTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, max(time.Until(dl), time.Millisecond))
	}
	opts := []natsgo.Option{
		natsgo.Name("junction " + o.name),
		natsgo.Timeout(timeout),
		natsgo.SetCustomDialer(d),
		natsgo.MaxReconnects(-1),
		natsgo.DisconnectErrHandler(func(_ *natsgo.Conn, err error) {
			if err != nil {
				o.logger.Warn("nats connection lost; reconnecting", "at", o.where, "error", err)
			}
		}),
		natsgo.ReconnectHandler(func(*natsgo.Conn) {
			o.logger.Info("nats reconnected", "at", o.where)
		}),
	}
	if o.tls != nil {
		// Secure requires TLS of every server; nats.go copies the config per
		// connection and sets its ServerName to the host when server_name is not set.
		opts = append(opts, natsgo.Secure(o.tls))
	}
	nc, err := natsgo.Connect(o.url, opts...)
	if err != nil {
		if last := d.lastErr(); last != nil && errors.Is(err, natsgo.ErrNoServers) {
			err = fmt.Errorf("%w: %w", err, last)
		}
		return nil, nil, fmt.Errorf("connect to nats at %s: %w", o.where, err)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(publishTimeout))
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("nats at %s: %w", o.where, err)
	}
	return nc, js, nil
}

// ensureStream creates the stream when subjects are set and it does not exist, or adds
// the subjects it lacks. Other settings of an existing stream are left as they are.
func ensureStream(ctx context.Context, js jetstream.JetStream, o *options) error {
	if o.stream == "" {
		return nil
	}
	ctx, cancel := withTimeout(ctx, requestTimeout)
	defer cancel()
	st, err := js.Stream(ctx, o.stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		if len(o.subjects) == 0 {
			return fmt.Errorf("stream %q does not exist; set subjects to have it created", o.stream)
		}
		err = createStream(ctx, js, jetstream.StreamConfig{
			Name:     o.stream,
			Subjects: o.subjects,
			Storage:  jetstream.FileStorage,
		})
		if err == nil {
			o.logger.Info("nats: created stream", "stream", o.stream, "subjects", o.subjects)
			return nil
		}
		if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return fmt.Errorf("create stream %q: %w", o.stream, err)
		}
		// Created meanwhile by someone else: check its subjects below.
		st, err = js.Stream(ctx, o.stream)
	}
	if err != nil {
		return fmt.Errorf("stream %q: %w", o.stream, err)
	}
	cfg := st.CachedInfo().Config
	var missing []string
	for _, s := range o.subjects {
		if !slices.ContainsFunc(cfg.Subjects, func(p string) bool { return covers(p, s) }) {
			missing = append(missing, s)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	cfg.Subjects = append(cfg.Subjects, missing...)
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("add subjects %v to stream %q: %w", missing, o.stream, err)
	}
	o.logger.Info("nats: added subjects to stream", "stream", o.stream, "subjects", missing)
	return nil
}

// errCodeStoreFailed is JetStream's "error creating store for stream". nats-server 2.9
// answers it when the account's last stream is being deleted at the same moment (the
// account's directory goes away under the new stream's); trying again succeeds.
const errCodeStoreFailed jetstream.ErrorCode = 10049

func createStream(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) error {
	for attempt := 1; ; attempt++ {
		_, err := js.CreateStream(ctx, cfg)
		var apiErr *jetstream.APIError
		if attempt == 3 || !errors.As(err, &apiErr) || apiErr.ErrorCode != errCodeStoreFailed {
			return err
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return err
		}
	}
}

func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// Errors of settling a delivery.
var ErrSettled = errors.New("delivery already settled")
