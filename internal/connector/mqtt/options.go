package mqtt

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
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

	filters []string // source
	topic   string   // sink
	retain  bool

	logger *slog.Logger
	now    func() time.Time
}

func readOptions(s connector.Settings, role string) (*options, error) {
	r := s.Reader()
	le := s.Env.Lookup()
	o := &options{logger: s.Env.Log(), now: time.Now}
	if s.Env.Clock != nil {
		o.now = s.Env.Clock.Now
	}

	if v := r.Value("url", true); !v.IsZero() {
		o.url, o.where = resolveURL(r, v, le)
	}
	o.clientID = r.String("client_id", "", false)
	if o.clientID == "" {
		o.clientID, o.genID = "junction-"+randomHex(), true
	}
	if v := r.Value("username", false); !v.IsZero() {
		u, err := v.Resolve(le)
		if err != nil {
			r.Fail("username", "%v", err)
		}
		o.username = u
	}
	if v := r.Value("password", false); !v.IsZero() {
		p, err := v.Resolve(le)
		if err != nil {
			r.Fail("password", "%v", err)
		}
		o.password = p
	}
	switch q := r.Int("qos", 1); q {
	case 0, 1:
		o.qos = byte(q)
	case 2:
		r.Fail("qos", "QoS 2 is not supported; use 1 (at least once, with flows acknowledging)")
	default:
		r.Fail("qos", "expected 0 or 1, found %d", q)
	}
	o.clean = r.Bool("clean_session", false)
	o.keep = r.Duration("keep_alive", KeepAliveDefault)
	if o.keep < time.Second && o.keep != 0 {
		r.Fail("keep_alive", "expected at least 1s, or 0 for none")
	}

	topics := r.Strings("topics")
	topic := r.String("topic", "", false)
	o.retain = r.Bool("retain", false)
	switch role {
	case "source":
		o.filters = topics
		if len(o.filters) == 0 && topic != "" {
			o.filters = []string{topic}
		}
		if len(o.filters) == 0 {
			r.Fail("topics", "an mqtt source subscribes to topics: set topics (a list of filters) or topic")
		}
		key := "topics"
		if len(topics) == 0 {
			key = "topic"
		}
		for _, f := range o.filters {
			if err := checkFilter(f); err != nil {
				r.Fail(key, "%q: %v", f, err)
			}
		}
	case "sink":
		o.topic = topic
		switch {
		case topic == "":
			r.Fail("topic", "an mqtt sink publishes to a topic: set topic")
		case strings.ContainsAny(topic, "+#"):
			r.Fail("topic", "%q: a sink publishes to one topic, without + or # wildcards", topic)
		}
	}
	if err := r.Done(); err != nil {
		return nil, err
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

func resolveURL(r *config.OptionReader, v config.Value, le config.LookupEnv) (string, string) {
	raw, err := v.Resolve(le)
	if err != nil {
		r.Fail("url", "%v", err)
		return "", ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		// url.Parse's errors quote the whole URL, password included.
		r.Fail("url", "expected a URL such as tcp://127.0.0.1:1883")
		return "", ""
	}
	port, ok := defaultPorts[u.Scheme]
	if !ok {
		r.Fail("url", "unsupported scheme %q; expected tcp, mqtt, ssl, tls, mqtts, ws or wss", u.Scheme)
		return "", ""
	}
	if u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), port)
	}
	shown := *u
	shown.User = nil
	return u.String(), shown.String()
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
