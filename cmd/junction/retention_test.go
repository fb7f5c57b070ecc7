package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseEventRetention(t *testing.T) {
	for in, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "168h": 168 * time.Hour, "0": 0, "90m": 90 * time.Minute, "2w": 14 * 24 * time.Hour} {
		if got, err := parseEventRetention(in); err != nil || got != want {
			t.Errorf("parseEventRetention(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"-1h", "-7d", "forever", "7", ""} {
		if _, err := parseEventRetention(in); err == nil || !strings.Contains(err.Error(), "--event-retention") {
			t.Errorf("parseEventRetention(%q): %v, want an error naming --event-retention", in, err)
		}
	}
}

// TestServeRejectsBadEventRetention: a negative or unreadable retention, from the flag
// or the environment, stops serve before it starts.
func TestServeRejectsBadEventRetention(t *testing.T) {
	dir := t.TempDir()
	_, stderr, code := run(t, dir, nil, "serve", "--addr", "127.0.0.1:0", "--event-retention", "-1d")
	if code == 0 || !strings.Contains(stderr, "--event-retention") || !strings.Contains(stderr, `"-1d"`) {
		t.Errorf("serve --event-retention -1d: exit %d %s", code, stderr)
	}
	_, stderr, code = run(t, dir, []string{"JUNCTION_EVENT_RETENTION=forever"}, "serve", "--addr", "127.0.0.1:0")
	if code == 0 || !strings.Contains(stderr, "--event-retention") || !strings.Contains(stderr, `"forever"`) {
		t.Errorf("JUNCTION_EVENT_RETENTION=forever serve: exit %d %s", code, stderr)
	}
}
