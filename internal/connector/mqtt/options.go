package mqtt

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/option"
)

// Timings that are not options.
const (
	KeepAliveDefault   = 30 * time.Second
	connectTimeout     = 10 * time.Second
	publishTimeout     = 30 * time.Second // a Write without a deadline of its own
	disconnectQuiet    = 250              // ms paho may take to finish sending before a disconnect
	nackDrainTimeout   = 5 * time.Second  // how long a Nack waits for other deliveries before reconnecting
	reconnectMin       = 500 * time.Millisecond
	dropSessionTimeout = 2 * time.Second // best effort, while closing
	reconnectMax       = 30 * time.Second
)

var defaultPorts = map[string]string{
	"tcp": "1883", "mqtt": "1883", "ws": "80",
	"ssl": "8883", "tls": "8883", "mqtts": "8883", "wss": "443",
}

type options struct {
	url      string // resolved, with a default port; may hold credentials
	where    string // url without credentials, for messages
	clientID string
	genID    bool // clientID was generated
	username string
	password string
	qos      byte
	clean    bool
	keep     time.Duration
	tls      *tls.Config // the tls option; nil: paho's defaults for ssl://, tls://, mqtts:// and wss://

	filters []string // source
	topic   string   // sink
	retain  bool

	logger *slog.Logger
	now    func() time.Time
}

// spec declares the mqtt connector's options.
var spec = &option.Spec{
	Summary: `MQTT 3.1.1, as Mosquitto and most brokers speak it: flows subscribe to topic
filters and acknowledge each message only when they are done with it, and publish to a topic,
a write succeeding once the broker has acknowledged every message (PUBACK at QoS 1).`,
	Description: `**Sessions.** With clean_session false and QoS 1, the broker keeps the subscription and
every message not yet acknowledged while the client is away, and sends them again when it
reconnects; the source reconnects on its own when the connection drops. Set client_id to keep
that session across restarts of Junction too; one client id belongs to one source at a time
(the broker disconnects the older of two clients with the same id). A session keeps its
subscriptions: messages of filters it subscribed to under an earlier configuration are
acknowledged and dropped. A generated client id is used for one run only, so the source
removes its session when it closes. Sinks connect with their own generated client id and a
clean session.

**Acknowledgement.** MQTT has no negative acknowledgement: a broker sends an unacknowledged
message again only when the client reconnects. Nack therefore stops handing out messages,
waits (up to 5s) for the deliveries still being processed to be settled, and reconnects, so
the broker redelivers what was handed back. At QoS 0, or with clean_session true, nothing is
redelivered and Nack fails. An Ack of a delivery whose connection has gone fails too: the
broker delivers that message again.

**Back-pressure.** At most the flow's in-flight limit of deliveries is handed out unsettled;
the rest wait, unacknowledged, in the client. At QoS 1 the broker limits how many
unacknowledged messages it sends (Mosquitto's max_inflight_messages, 20 by default), so memory
stays bounded; at QoS 0 nothing limits a broker that sends faster than the flow works. With
overlapping filters (sensors/+/temp and sensors/#) a broker may send a message once per
matching filter; the source hands out each copy it receives once.

Deliveries carry the headers topic, qos, retained, message_id (the packet id) and duplicate
(when set).`,
	Fields: []option.Field{
		{Name: "url", Type: option.String, Required: option.Always, Secret: true, Example: `"tcp://localhost:1883"`,
			Description: "the broker's URL: tcp://host:1883, or mqtt://, ssl://, tls://, mqtts://, ws://, wss://",
			Parse:       option.Convert(parseURL)},
		option.TLS("It makes a tcp:// or mqtt:// URL connect with TLS too (ws:// becomes wss://), to the URL's port: 1883 when none is written."),
		option.Format(),
		{Name: "client_id", Type: option.String,
			Description: "the source's client id, which keeps its session (see Sessions). Default: junction-<random>, for one run."},
		{Name: "username", Type: option.String, Secret: true, Description: "the user name"},
		{Name: "password", Type: option.String, Secret: true, Description: "the password"},
		{Name: "qos", Type: option.Int, Default: 1, Description: "0 or 1; QoS 2 is not supported.", Parse: option.Check(checkQoS)},
		{Name: "clean_session", Type: option.Bool, Description: "start without the broker's stored session."},
		{Name: "keep_alive", Type: option.Duration, Default: KeepAliveDefault, Parse: option.Check(checkKeepAlive),
			Description: "the interval of keep-alive pings: at least 1s, or 0 for none."},
		{Name: "topics", Type: option.Strings, For: option.Source, Example: `["sensors/+/temp", "alerts/#"]`,
			Description: "topic filters to subscribe to, with + (one level) and # (the rest) wildcards.",
			Parse:       option.Check(checkFilters)},
		{Name: "topic", Type: option.String, Required: option.Sink, Example: `"sensors/out"`,
			Description: "the topic a sink publishes to (no wildcards). A source subscribes to it as its one filter when topics is not set."},
		{Name: "retain", Type: option.Bool, For: option.Sink, Description: "publish retained messages."},
	},
	Check: checkTopics,
	Examples: []option.Example{
		{Role: option.Source, Title: "a persistent session on two filters", Options: `url: "tcp://localhost:1883"
client_id: "junction-sensors"
topics: ["sensors/+/temp", "sensors/+/humidity"]`},
		{Role: option.Sink, Title: "publish at QoS 1", Options: `url: "tcp://localhost:1883"
topic: "alerts/high-temp"`},
	},
}

func checkQoS(q int) error {
	switch q {
	case 0, 1:
		return nil
	case 2:
		return errors.New("QoS 2 is not supported; use 1 (at least once, with flows acknowledging)")
	}
	return fmt.Errorf("expected 0 or 1, found %d", q)
}

func checkKeepAlive(d time.Duration) error {
	if d < time.Second && d != 0 {
		return errors.New("expected at least 1s, or 0 for none")
	}
	return nil
}

func checkFilters(filters []string) error {
	for _, f := range filters {
		if err := checkFilter(f); err != nil {
			return fmt.Errorf("%q: %w", f, err)
		}
	}
	return nil
}

// checkTopics applies what each role needs of topics and topic: a source subscribes
// to topics, or to topic as its one filter; a sink publishes to topic, which names one.
func checkTopics(v *option.Values, role option.Role) {
	topic := v.String("topic")
	switch {
	case role == option.Source && len(v.Strings("topics")) == 0 && v.OK("topics"):
		if topic == "" {
			v.Fail("topics", "an mqtt source subscribes to topics: set topics (a list of filters) or topic")
		} else if err := checkFilter(topic); err != nil {
			v.Fail("topic", "%q: %v", topic, err)
		}
	case role == option.Sink && strings.ContainsAny(topic, "+#"):
		v.Fail("topic", "%q: a sink publishes to one topic, without + or # wildcards", topic)
	}
}

// readOptions decodes the options for role (option.Alone for Check).
func readOptions(s connector.Settings, role option.Role) (*options, error) {
	v, err := s.Decode(spec, role)
	if err != nil {
		return nil, err
	}
	u := option.Get[brokerURL](v, "url")
	o := &options{
		url: u.raw, where: u.where, clientID: v.String("client_id"),
		username: v.String("username"), password: v.String("password"),
		qos: byte(v.Int("qos")), clean: v.Bool("clean_session"), keep: v.Duration("keep_alive"),
		retain: v.Bool("retain"), logger: s.Env.Log(), now: time.Now,
		tls: option.TLSConfig(v),
	}
	if o.tls != nil {
		o.url = secureScheme(o.url)
	}
	if s.Env.Clock != nil {
		o.now = s.Env.Clock.Now
	}
	if o.clientID == "" {
		o.clientID, o.genID = "junction-"+randomHex(), true
	}
	switch role {
	case option.Source:
		o.filters = v.Strings("topics")
		if len(o.filters) == 0 {
			o.filters = []string{v.String("topic")}
		}
	case option.Sink:
		o.topic = v.String("topic")
	}
	return o, nil
}

// checkFilter applies MQTT's rules for topic filters: + stands for a whole level, and #
// for the whole rest, as the last level.
func checkFilter(f string) error {
	if f == "" {
		return fmt.Errorf("a topic filter must not be empty")
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		switch {
		case l == "#" && i != len(levels)-1:
			return fmt.Errorf("# must be the last level")
		case l != "#" && strings.Contains(l, "#"), l != "+" && strings.Contains(l, "+"):
			return fmt.Errorf("a wildcard must be a whole level (sensors/+/temp, sensors/#)")
		}
	}
	return nil
}

// matches reports whether a topic falls under a filter, as the broker decides it (MQTT
// 3.1.1 section 4.7): + is one level, # the rest (the parent level included), wildcards
// at the start do not match $-topics, and $share/GROUP/ only names a shared subscription.
func matches(filter, topic string) bool {
	if rest, ok := strings.CutPrefix(filter, "$share/"); ok {
		if _, f, ok := strings.Cut(rest, "/"); ok {
			filter = f
		}
	}
	f, t := strings.Split(filter, "/"), strings.Split(topic, "/")
	if strings.HasPrefix(topic, "$") && (f[0] == "+" || f[0] == "#") {
		return false
	}
	for i, level := range f {
		if level == "#" {
			return true
		}
		if i >= len(t) || (level != "+" && level != t[i]) {
			return false
		}
	}
	return len(f) == len(t)
}

// brokerURL is the url option with a default port (it may hold credentials), and
// without credentials for messages.
type brokerURL struct{ raw, where string }

func parseURL(raw string) (brokerURL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		// url.Parse's errors quote the whole URL, password included.
		return brokerURL{}, errors.New("expected a URL such as tcp://127.0.0.1:1883")
	}
	port, ok := defaultPorts[u.Scheme]
	if !ok {
		return brokerURL{}, fmt.Errorf("unsupported scheme %q; expected tcp, mqtt, ssl, tls, mqtts, ws or wss", u.Scheme)
	}
	if u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), port)
	}
	shown := *u
	shown.User = nil
	return brokerURL{raw: u.String(), where: shown.String()}, nil
}

// secureScheme turns a plain-text URL's scheme into its TLS one: paho uses TLS (and
// its TLSConfig) by the scheme alone, and a tls option always means TLS.
func secureScheme(raw string) string {
	for plain, secure := range map[string]string{"tcp://": "ssl://", "mqtt://": "ssl://", "ws://": "wss://"} {
		if rest, ok := strings.CutPrefix(raw, plain); ok {
			return secure + rest
		}
	}
	return raw
}

// clientOptions are what every client of the connector shares.
func (o *options) clientOptions(clientID string, clean bool) *paho.ClientOptions {
	co := paho.NewClientOptions().
		AddBroker(o.url).
		SetClientID(clientID).
		SetCleanSession(clean).
		SetKeepAlive(o.keep).
		SetConnectTimeout(connectTimeout).
		SetConnectRetry(false)
	if o.tls != nil {
		co.SetTLSConfig(o.tls.Clone())
	}
	if o.username != "" {
		co.SetUsername(o.username)
	}
	if o.password != "" {
		co.SetPassword(o.password)
	}
	return co
}

func randomHex() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b)
}
