package mqtt

import "testing"

func TestMatches(t *testing.T) {
	for _, c := range []struct {
		filter, topic string
		want          bool
	}{
		{"sensors/+/temp", "sensors/a/temp", true},
		{"sensors/+/temp", "sensors/a/humidity", false},
		{"sensors/+/temp", "sensors/a/temp/raw", false},
		{"sensors/+/temp", "sensors/temp", false},
		{"sensors/#", "sensors/a/temp", true},
		{"sensors/#", "sensors", true},
		{"sensors/#", "other/x", false},
		{"#", "a/b/c", true},
		{"#", "$SYS/broker/uptime", false},
		{"+/broker/uptime", "$SYS/broker/uptime", false},
		{"$SYS/#", "$SYS/broker/uptime", true},
		{"a/b", "a/b", true},
		{"a/b", "a/b/c", false},
		{"+", "a", true},
		{"+", "a/b", false},
		{"$share/workers/jobs/+", "jobs/1", true},
		{"$share/workers/jobs/+", "other/1", false},
	} {
		if got := matches(c.filter, c.topic); got != c.want {
			t.Errorf("matches(%q, %q) = %v, want %v", c.filter, c.topic, got, c.want)
		}
	}
}
