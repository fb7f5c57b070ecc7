package runtime

import (
	"context"

	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/integration"
)

var _ connector.Feeds = (*bridge)(nil)

// Feed hands a websocket source the feed of one of this runtime's websocket
// integrations (integration.Runtime.Feed).
func (b *bridge) Feed(name string, params map[string]any) (connector.Feed, error) {
	f, err := b.integrations.Feed(name, params)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, receive func(context.Context, connector.FeedMessage) error) error {
		return f.Read(ctx, func(ctx context.Context, m integration.FeedMessage) error {
			return receive(ctx, connector.FeedMessage(m))
		})
	}, nil
}
