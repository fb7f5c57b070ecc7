package mqtt_test

import (
	"strings"
	"testing"

	"github.com/junctionhq/junction/internal/connector/mqtt"
)

func TestBadOptions(t *testing.T) {
	t.Parallel()
	const url = `url: "tcp://user:pw@127.0.0.1:1883"`
	for _, c := range []struct {
		name, block, use string
		sink             bool
		want             string
	}{
		{"no url", `topic: "a"`, "", false, "test.cai:5:1: mqtt connector sensors: missing url"},
		{"scheme", `url: "http://127.0.0.1"` + "\ntopic: a", "", false, "test.cai:3:1: mqtt connector sensors: url: unsupported scheme \"http\""},
		{"not a url", `url: "127.0.0.1:1883"` + "\ntopic: a", "", false, "test.cai:3:1: mqtt connector sensors: url: expected a URL such as tcp://127.0.0.1:1883"},
		{"qos 2", url, "topic: a\nqos: 2", false, "test.cai:8:1: mqtt connector sensors: qos: QoS 2 is not supported"},
		{"qos 3", url, "topic: a\nqos: 3", true, "test.cai:8:1: mqtt connector sensors: qos: expected 0 or 1"},
		{"source without topics", url, "", false, "mqtt connector sensors: topics: an mqtt source subscribes to topics"},
		{"misplaced #", url, `topics: ["a/#/b"]`, false, "test.cai:7:1: mqtt connector sensors: topics: \"a/#/b\": # must be the last level"},
		{"partial +", url, `topic: "a/b+/c"`, false, "test.cai:7:1: mqtt connector sensors: topic: \"a/b+/c\": a wildcard must be a whole level"},
		{"sink without topic", url, `topics: ["a"]`, true, "test.cai:5:1: mqtt connector sensors: missing topic, which a sink needs: the topic a sink publishes to (no wildcards)"},
		{"sink wildcard", url, `topic: "a/+"`, true, "test.cai:7:1: mqtt connector sensors: topic: \"a/+\": a sink publishes to one topic"},
		{"unknown key", url, "topic: a\nretained: true", true, "test.cai:8:1: mqtt connector sensors: unknown setting retained; did you mean retain?"},
		{"password env", url + "\npassword: env(JUNCTION_TEST_UNSET_MQTT_PW)", "topic: a", true, "test.cai:4:1: mqtt connector sensors: password: JUNCTION_TEST_UNSET_MQTT_PW is not set"},
		{"keep_alive", url, "topic: a\nkeep_alive: 10ms", true, "test.cai:8:1: mqtt connector sensors: keep_alive: expected at least 1s"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := settings(t, c.block, c.use)
			var err error
			if c.sink {
				_, err = mqtt.Kind().NewSink(s)
			} else {
				_, err = mqtt.Kind().NewSource(s)
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %v\nwant one containing %q", err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), "pw@") {
				t.Errorf("error shows the credentials: %v", err)
			}
		})
	}
}

func TestOptionsBothRoles(t *testing.T) {
	t.Parallel()
	block := `url: "tcp://127.0.0.1"
client_id: "orders-reader"
username: u
password: env(MQTT_PW)
qos: 1
clean_session: true
keep_alive: 1m
topics: ["sensors/+/temp", "sensors/#"]
topic: "out/x"
retain: true`
	s := settings(t, block, "")
	s.Env.LookupEnv = func(name string) (string, bool) { return "pw", name == "MQTT_PW" }
	if _, err := mqtt.Kind().NewSource(s); err != nil {
		t.Errorf("NewSource: %v", err)
	}
	if _, err := mqtt.Kind().NewSink(s); err != nil {
		t.Errorf("NewSink: %v", err)
	}
}
