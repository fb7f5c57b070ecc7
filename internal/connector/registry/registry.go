package registry

import (
	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/amqp"
	"github.com/junctionhq/junction/internal/connector/builtin"
	"github.com/junctionhq/junction/internal/connector/kafka"
	"github.com/junctionhq/junction/internal/connector/mqtt"
	"github.com/junctionhq/junction/internal/connector/nats"
	"github.com/junctionhq/junction/internal/connector/postgres"
	"github.com/junctionhq/junction/internal/connector/redisstream"
	"github.com/junctionhq/junction/internal/connector/schedule"
)

// Kinds returns the connector types by name.
func Kinds() map[string]connector.Kind {
	kinds := []connector.Kind{amqp.Kind(), mqtt.Kind(), nats.Kind(), kafka.Kind(), redisstream.Kind(), postgres.Kind(), schedule.Kind()}
	kinds = append(kinds, builtin.Kinds()...)
	out := make(map[string]connector.Kind, len(kinds))
	for _, k := range kinds {
		out[k.Name] = k
	}
	return out
}
