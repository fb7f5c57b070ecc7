package config

import (
	"slices"
	"strings"
)

// FeedConnectorType is the connector type that reads a websocket integration's feed
// (internal/connector/websocket). Its options name an integration and fill the
// integration's subscribe message, so they are checked here, against the integrations,
// like a flow's enrich step: a connector's own spec sees only its block.
const FeedConnectorType = "websocket"

// checkSocketFeeds reports the websocket sources of flows that name no websocket
// integration, or do not give the subscribe message's parameters (or give ones it does
// not take). Like an enrich step's operation, the reference is checked where it is
// used: a connector no flow reads is only checked against its spec.
func checkSocketFeeds(cfg *Config, rep *reporter) {
	var sockets []string
	for _, in := range cfg.Integrations {
		if in.Type == TypeWebSocket {
			sockets = append(sockets, in.Name)
		}
	}
	checked := map[Pos]bool{} // a connector's own option, reported once for all its flows
	for _, f := range cfg.Flows {
		c := cfg.Connector(f.Source.Connector)
		if c == nil || c.Type != FeedConnectorType {
			continue
		}
		integration, ok := f.Source.Options.Get("integration")
		if !ok {
			if integration, ok = c.Options.Get("integration"); !ok {
				continue // the connector's spec says it is missing
			}
		}
		if !checked[integration.Pos] {
			checked[integration.Pos] = true
			checkFeedIntegration(cfg, rep, integration, sockets)
		}
		name, _ := integration.Value.(string)
		in := cfg.Integration(name)
		if in == nil || in.Type != TypeWebSocket || in.WebSocket == nil {
			continue
		}
		params, ok := f.Source.Options.Get("params")
		if !ok {
			params, ok = c.Options.Get("params")
		}
		var given []string
		at := f.Source.Pos
		if ok {
			at = params.Pos
			if block, isBlock := params.Value.(Options); isBlock {
				for _, e := range block.Entries {
					given = append(given, e.Key)
				}
			}
		}
		var takes []string
		if s := in.WebSocket.Subscribe; s != nil {
			takes = s.Params
		}
		for _, p := range takes {
			if !slices.Contains(given, p) {
				rep.errorf(at, "flow %s: integration %s subscribes with {%s}; give it in the source's params: { %s: … }", f.Name, in.Name, p, p)
			}
		}
		for _, g := range given {
			if !slices.Contains(takes, g) {
				what := "takes no parameters"
				if len(takes) > 0 {
					what = "takes " + strings.Join(takes, ", ")
				}
				rep.errorf(at, "flow %s: params: %s is not a parameter of integration %s's subscribe message, which %s", f.Name, g, in.Name, what)
			}
		}
	}
}

// checkFeedIntegration reports an `integration` option that names no websocket
// integration.
func checkFeedIntegration(cfg *Config, rep *reporter, o Option, sockets []string) {
	name, isString := o.Value.(string)
	if !isString {
		return // the connector's spec says what it expected
	}
	switch in := cfg.Integration(name); {
	case in == nil:
		rep.errorf(o.Pos, "integration: %q is not a declared integration%s", name, didYouMean(name, sockets))
	case in.Type != TypeWebSocket:
		rep.errorf(o.Pos, "integration: %s is type %s; a websocket connector reads the feed of a type: websocket integration", name, in.Type)
	}
}
