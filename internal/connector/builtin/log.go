package builtin

import (
	"context"
	"log/slog"

	"github.com/junctionhq/junction/internal/connector"
)

func logKind() connector.Kind {
	return connector.Kind{
		Name: "log",
		NewSink: func(s connector.Settings) (connector.Sink, error) {
			r := s.Reader()
			level := r.String("level", "info", false)
			var l slog.Level
			if err := l.UnmarshalText([]byte(level)); err != nil {
				r.Fail("level", "expected debug, info, warn or error")
			}
			if err := r.Done(); err != nil {
				return nil, err
			}
			return &logSink{log: s.Env.Logger, level: l}, nil
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
