package builtin

import (
	"context"
	"errors"
	"log/slog"

	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/option"
)

var logSpec = &option.Spec{
	Summary: `Writes each message (body and headers) to Junction's log: for trying a flow out, and for
messages worth a line in the log.`,
	Fields: []option.Field{
		{Name: "level", Type: option.String, Default: "info", Example: "debug",
			Description: "the log level: debug, info, warn or error.",
			Parse: option.Convert(func(level string) (slog.Level, error) {
				var l slog.Level
				if err := l.UnmarshalText([]byte(level)); err != nil {
					return l, errors.New("expected debug, info, warn or error")
				}
				return l, nil
			})},
	},
	Examples: []option.Example{{Role: option.Sink, Title: "log at debug level", Options: `level: debug`}},
}

func logKind() connector.Kind {
	return connector.Kind{
		Name: "log",
		Spec: logSpec,
		NewSink: func(s connector.Settings) (connector.Sink, error) {
			v, err := s.Decode(logSpec, option.Sink)
			if err != nil {
				return nil, err
			}
			return &logSink{log: s.Env.Logger, level: option.Get[slog.Level](v, "level")}, nil
		},
		Check: func(context.Context, connector.Settings) error { return nil },
	}
}

type logSink struct {
	log   *slog.Logger
	level slog.Level
}

func (l *logSink) Write(ctx context.Context, msgs []connector.Message) error {
	for _, m := range msgs {
		l.log.Log(ctx, l.level, "flow message", "body", string(m.Body), "headers", m.Headers)
	}
	return nil
}

func (l *logSink) Close() error { return nil }
