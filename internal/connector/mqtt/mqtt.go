package mqtt

import (
	"context"
	"errors"
	"fmt"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/option"
)

// Kind returns the mqtt connector type.
func Kind() connector.Kind {
	return connector.Kind{
		Name: "mqtt",
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

// check connects with a clean session of its own and disconnects.
func check(ctx context.Context, s connector.Settings) error {
	o, err := readOptions(s, option.Alone)
	if err != nil {
		return err
	}
	c := paho.NewClient(o.clientOptions("junction-check-"+randomHex(), true).SetAutoReconnect(false))
	if err := await(ctx, c.Connect(), connectTimeout); err != nil {
		c.Disconnect(0)
		return fmt.Errorf("connect to mqtt at %s: %w", o.where, err)
	}
	c.Disconnect(disconnectQuiet)
	return nil
}

// await waits for a paho token, for at most timeout and while ctx lasts.
func await(ctx context.Context, t paho.Token, timeout time.Duration) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return fmt.Errorf("no answer within %s", timeout)
	}
}

// Errors of settling a delivery.
var (
	ErrSettled = errors.New("delivery already settled")
	// ErrNoRedelivery means a Nack cannot make the broker send the message again: it came
	// at QoS 0, or the session is clean, so reconnecting discards it.
	ErrNoRedelivery = errors.New("mqtt cannot redeliver this message (QoS 0 or clean_session: true)")
	// ErrConnectionGone means the delivery's connection has been closed, so it could not
	// be acknowledged; the broker sends it again on the new connection.
	ErrConnectionGone = errors.New("the connection the message came on is gone; the broker delivers it again")
)
