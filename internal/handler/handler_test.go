package handler

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/webhook"
)

const handlersSrc = `integration A {
    base_url: "https://a.example.com"
    operation track { method: POST  path: "/t"  body: { user_id: uuid, email: string, age: integer, joined: timestamp, tags: list(string) } }
}
event user_created {
    schema {
        user_id uuid
        email string
        age integer
        joined timestamp
        tags array
    }
}
event order_completed { }
webhook hook { event "x"  url "https://hooks.example.com" }
workflow welcome { steps { hello { emit "order.completed" } } }
on "user.created" do integration "A.track"
on "user_created" do webhook "hook" async
on "user.created" do workflow "welcome"
on "order.completed" do emit "order.completed"
`

func load(t *testing.T) *config.Config {
	t.Helper()
	cfg, diags := config.Decode("h.cai", []byte(handlersSrc))
	if diags.HasErrors() {
		t.Fatalf("config: %v", diags.Err())
	}
	return cfg
}

// TestExecutionsMatchEventsAsConfigDoes: an event gets one execution per running handler
// whose event name matches its type with `.` and `_` alike (do workflow ones too); past
// MaxDepth executions are dead, saying why.
func TestExecutionsMatchEventsAsConfigDoes(t *testing.T) {
	s := New(load(t), 3)
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for _, typ := range []string{"user.created", "user_created"} {
		xs := s.Executions(context.Background(), event.Event{ID: "evt_1", Type: typ}, now)
		var names []string
		for _, x := range xs {
			names = append(names, x.Handler)
			if x.Status != store.HandlerPending || x.MaxAttempts != 3 || x.EventID != "evt_1" || x.EventType != typ {
				t.Errorf("%s: execution %+v", typ, x)
			}
		}
		want := `on "user.created" do integration "A.track"|on "user_created" do webhook "hook"|on "user.created" do workflow "welcome"`
		if got := strings.Join(names, "|"); got != want {
			t.Errorf("%s: handlers %s, want %s", typ, got, want)
		}
	}
	if xs := s.Executions(context.Background(), event.Event{ID: "evt_2", Type: "user.deleted"}, now); len(xs) != 0 {
		t.Errorf("unmatched event got executions: %+v", xs)
	}
	if len(s.Handlers()) != 4 {
		t.Errorf("Handlers() lists %d, want every declared one (4)", len(s.Handlers()))
	}
	if _, ok := s.Lookup(`on "user.created" do workflow "welcome"`); !ok {
		t.Error("a do workflow handler is not looked up")
	}

	deep := withDepth(context.Background(), MaxDepth+1)
	xs := s.Executions(deep, event.Event{ID: "evt_3", Type: "order.completed"}, now)
	if len(xs) != 1 || xs[0].Status != store.HandlerDead || !strings.Contains(xs[0].LastError, "emits deep") {
		t.Errorf("past MaxDepth: %+v", xs)
	}
}

// TestShapesCheckDeclaredPayloads: a declared event's payload must hold each declared
// field with its basic type; each problem names data.<field>; undeclared types pass.
func TestShapesCheckDeclaredPayloads(t *testing.T) {
	shapes := NewShapes(load(t))
	ok := `{"user_id":"6f1c2a4e-8b7d-4c3e-9a1f-2b3c4d5e6f70","email":"a@example.com","age":3,"joined":"2026-12-06T12:00:00Z","tags":[]}`
	if err := shapes.Check("user.created", json.RawMessage(ok)); err != nil {
		t.Errorf("valid payload refused: %v", err)
	}
	if err := shapes.Check("anything.else", json.RawMessage(`{"x":1}`)); err != nil {
		t.Errorf("undeclared type checked: %v", err)
	}
	for _, c := range []struct{ data, field, want string }{
		{`{"email":"a@example.com","age":3,"joined":"2026-12-06T12:00:00Z","tags":[]}`, "data.user_id", "missing"},
		{`{"user_id":"not-a-uuid","email":"a","age":3,"joined":"2026-12-06T12:00:00Z","tags":[]}`, "data.user_id", "expected uuid"},
		{`{"user_id":"6f1c2a4e-8b7d-4c3e-9a1f-2b3c4d5e6f70","email":"a","age":3.5,"joined":"2026-12-06T12:00:00Z","tags":[]}`, "data.age", "expected integer"},
		{`{"user_id":"6f1c2a4e-8b7d-4c3e-9a1f-2b3c4d5e6f70","email":"a","age":3,"joined":"yesterday","tags":[]}`, "data.joined", "expected timestamp"},
		{`{"user_id":"6f1c2a4e-8b7d-4c3e-9a1f-2b3c4d5e6f70","email":7,"age":3,"joined":"2026-12-06T12:00:00Z","tags":{}}`, "data.email", "expected string"},
		{`[1,2]`, "data", "expected a JSON object"},
	} {
		err := shapes.Check("user_created", json.RawMessage(c.data))
		v, isValidation := errors.AsType[*webhook.ValidationError](err)
		if !isValidation {
			t.Errorf("%s: error %v, want a validation error", c.data, err)
			continue
		}
		if msg := v.Fields[c.field]; !strings.Contains(msg, c.want) {
			t.Errorf("%s: %s = %q, want it to say %q (all: %v)", c.data, c.field, msg, c.want, v.Fields)
		}
	}
}
