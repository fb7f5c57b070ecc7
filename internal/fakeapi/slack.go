package fakeapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/junctionhq/junction/internal/clock"
)

// SlackConfig configures the Slack fake.
type SlackConfig struct {
	Token    string      // the one valid bot token, e.g. "xoxb-…"; required
	Channels []string    // channel names the bot is in (ids are derived); default general
	Clock    clock.Clock // message timestamps; default the wall clock
}

// SlackMessage is one message posted to the fake.
type SlackMessage struct {
	Channel string // the channel's id
	TS      string
	Text    string
	Blocks  []any
	Edited  bool
}

// Slack is a fake of Slack's Web API (https://slack.com/api/METHOD; the fake serves
// /api/METHOD):
//
//   - POST chat.postMessage (channel by id or #name, text or blocks, thread_ts) and
//     chat.update (channel, ts, text or blocks), as JSON or form-encoded bodies
//   - GET or POST auth.test and conversations.list (limit, cursor pages)
//
// As on Slack, a failure of the method is HTTP 200 {"ok": false, "error": "…"}:
// not_authed without a token, invalid_auth with a wrong one, channel_not_found,
// no_text, message_not_found, invalid_arguments; an unknown method is 404
// unknown_method. A rate limit (RateLimitNext) is 429 {"ok": false, "error":
// "ratelimited"} with Retry-After, Slack's only non-200 failure.
type Slack struct {
	*Server
	cfg SlackConfig

	mu       sync.Mutex
	channels map[string]string // id → name
	messages []SlackMessage
}

// NewSlack starts the fake; it is closed when the test ends. Give the client
// URL()+"/api" as the base URL.
func NewSlack(t testing.TB, cfg SlackConfig) *Slack {
	t.Helper()
	if cfg.Token == "" {
		t.Fatal("fakeapi.NewSlack: Token is required")
	}
	if len(cfg.Channels) == 0 {
		cfg.Channels = []string{"general"}
	}
	s := &Slack{cfg: cfg, channels: map[string]string{}}
	for i, name := range cfg.Channels {
		s.channels[slackChannelID(i)] = name
	}
	s.Server = start(t, cfg.Clock, func(w http.ResponseWriter, _ *http.Request, status int) {
		code := "fatal_error"
		if status == http.StatusTooManyRequests {
			code = "ratelimited"
		}
		writeJSON(w, status, map[string]any{"ok": false, "error": code})
	}, http.HandlerFunc(s.serve))
	return s
}

func slackChannelID(i int) string { return fmt.Sprintf("C%08d", 1000+i) }

// ChannelID returns the id of a channel the bot is in.
func (s *Slack) ChannelID(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, n := range s.channels {
		if n == strings.TrimPrefix(name, "#") {
			return id
		}
	}
	return ""
}

// Messages returns the messages posted, oldest first, as they are now.
func (s *Slack) Messages() []SlackMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.messages)
}

func slackFail(w http.ResponseWriter, code string) {
	writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": code})
}

func (s *Slack) serve(w http.ResponseWriter, r *http.Request) {
	method, found := strings.CutPrefix(r.URL.Path, "/api/")
	handlers := map[string]func(http.ResponseWriter, map[string]any){
		"chat.postMessage": s.postMessage, "chat.update": s.update,
		"auth.test": s.authTest, "conversations.list": s.listConversations,
	}
	handle, known := handlers[method]
	if !found || !known {
		writeJSON(w, http.StatusNotFound, map[string]any{"ok": false, "error": "unknown_method", "req_method": method})
		return
	}
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	switch {
	case token == "":
		slackFail(w, "not_authed")
		return
	case !strings.EqualFold(scheme, "Bearer") || token != s.cfg.Token:
		slackFail(w, "invalid_auth")
		return
	}
	args, ok := slackArgs(r)
	if !ok {
		slackFail(w, "invalid_json")
		return
	}
	handle(w, args)
}

// slackArgs reads a method's arguments: the query, and a JSON or form body.
func slackArgs(r *http.Request) (map[string]any, bool) {
	args := map[string]any{}
	for k, vs := range r.URL.Query() {
		args[k] = vs[0]
	}
	body := readBody(r)
	if len(bytes.TrimSpace(body)) == 0 {
		return args, true
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/json" {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, false
		}
		for k, v := range m {
			args[k] = v
		}
		return args, true
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, false
	}
	for k, vs := range form {
		args[k] = vs[0]
	}
	return args, true
}

// channelLocked finds a channel by id or #name.
func (s *Slack) channelLocked(ref string) (string, bool) {
	if _, ok := s.channels[ref]; ok {
		return ref, true
	}
	for id, name := range s.channels {
		if name == strings.TrimPrefix(ref, "#") {
			return id, true
		}
	}
	return "", false
}

func (s *Slack) postMessage(w http.ResponseWriter, args map[string]any) {
	ref, _ := args["channel"].(string)
	text, _ := args["text"].(string)
	blocks, _ := args["blocks"].([]any)
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.channelLocked(ref)
	switch {
	case ref == "":
		slackFail(w, "channel_not_found")
		return
	case !ok:
		slackFail(w, "channel_not_found")
		return
	case text == "" && len(blocks) == 0:
		slackFail(w, "no_text")
		return
	}
	now := s.clock.Now()
	ts := fmt.Sprintf("%d.%06d", now.Unix(), len(s.messages)+1)
	s.messages = append(s.messages, SlackMessage{Channel: id, TS: ts, Text: text, Blocks: blocks})
	msg := map[string]any{"type": "message", "text": text, "ts": ts, "user": "U0JUNCTION", "bot_id": "B0JUNCTION"}
	if thread, _ := args["thread_ts"].(string); thread != "" {
		msg["thread_ts"] = thread
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "channel": id, "ts": ts, "message": msg})
}

func (s *Slack) update(w http.ResponseWriter, args map[string]any) {
	ref, _ := args["channel"].(string)
	ts, _ := args["ts"].(string)
	text, _ := args["text"].(string)
	blocks, _ := args["blocks"].([]any)
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.channelLocked(ref)
	if !ok {
		slackFail(w, "channel_not_found")
		return
	}
	if ts == "" {
		slackFail(w, "invalid_arguments")
		return
	}
	for i := range s.messages {
		if m := &s.messages[i]; m.Channel == id && m.TS == ts {
			m.Text, m.Blocks, m.Edited = text, blocks, true
			writeJSON(w, http.StatusOK, map[string]any{"ok": true, "channel": id, "ts": ts, "text": text})
			return
		}
	}
	slackFail(w, "message_not_found")
}

func (s *Slack) authTest(w http.ResponseWriter, _ map[string]any) {
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "url": "https://junction-test.slack.com/", "team": "Junction Test",
		"user": "junction", "team_id": "T0JUNCTION", "user_id": "U0JUNCTION", "bot_id": "B0JUNCTION", "is_enterprise_install": false})
}

func (s *Slack) listConversations(w http.ResponseWriter, args map[string]any) {
	s.mu.Lock()
	ids := make([]string, 0, len(s.channels))
	for id := range s.channels {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var channels []any
	for _, id := range ids {
		channels = append(channels, map[string]any{"id": id, "name": s.channels[id], "is_channel": true, "is_archived": false, "is_member": true})
	}
	s.mu.Unlock()
	limit := 100
	if l, ok := args["limit"]; ok {
		if _, err := fmt.Sscan(fmt.Sprint(l), &limit); err != nil || limit < 1 {
			slackFail(w, "invalid_limit")
			return
		}
	}
	start := 0
	if c, _ := args["cursor"].(string); c != "" {
		i := slices.Index(ids, strings.TrimPrefix(c, "next:"))
		if i < 0 {
			slackFail(w, "invalid_cursor")
			return
		}
		start = i
	}
	end := min(len(channels), start+limit)
	next := ""
	if end < len(channels) {
		next = "next:" + ids[end]
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "channels": channels[start:end], "response_metadata": map[string]any{"next_cursor": next}})
}
