package fakeapi_test

import (
	"testing"

	"github.com/junctionhq/junction/internal/fakeapi"
	"github.com/junctionhq/junction/internal/testkit"
)

func TestNotifications(t *testing.T) {
	n := fakeapi.NewNotifications(t, fakeapi.NotificationsConfig{APIKey: "notify-key"})
	post := func(path, body string) reply {
		return send(t, "POST", n.URL()+path, body, "X-API-Key", "notify-key", "Content-Type", "application/json")
	}
	expect(t, "no key", send(t, "POST", n.URL()+"/email", `{}`, "Content-Type", "application/json"), 401, "authorization required")
	expect(t, "wrong key", send(t, "POST", n.URL()+"/email", `{}`, "X-API-Key", "x", "Content-Type", "application/json"), 401, "invalid")
	expect(t, "not JSON", send(t, "POST", n.URL()+"/email", `to=x`, "X-API-Key", "notify-key", "Content-Type", "application/x-www-form-urlencoded"), 415)

	expect(t, "email", post("/email", `{"to":"ada@example.com","subject":"Hi","body_html":"<p>Hi</p>"}`), 202, `"message_id":"msg_`, `"status":"queued"`)
	expect(t, "invalid email", post("/email", `{"to":"ada","body_html":"x"}`), 400, `"field":"subject"`, `"field":"to"`)
	expect(t, "sms", post("/sms", `{"to":"+14155550123","message":"Your code is 1234"}`), 202)
	expect(t, "bad phone", post("/sms", `{"to":"555","message":"x"}`), 400, "E.164")
	expect(t, "push", post("/push", `{"user_id":"u1","title":"T","body":"B","badge_count":3}`), 202, `"delivered_count":1`)
	expect(t, "unknown field", post("/push", `{"user_id":"u1","title":"T","body":"B","sound":"ding"}`), 400, `"field":"sound"`)

	batch := `{"notifications":[
		{"operation":"send_email","to":"a@example.com","subject":"S","body_html":"<b>x</b>"},
		{"operation":"send_sms","to":"+14155550123","message":"m"},
		{"operation":"send_sms","to":"nope","message":"m"},
		{"channel":"push","recipient":"u2","content":{"title":"T","body":"B"}},
		{"channel":"fax","recipient":"x","content":{}}]}`
	r := post("/batch", batch)
	expect(t, "batch", r, 202, `"accepted":3`, `"rejected":2`, `"batch_id":"bat_`)
	if _, has := r.json(t)["results"]; has {
		t.Errorf("no results list unless asked: %s", r.body)
	}
	n.SetBatchResults(true)
	r = post("/batch", batch)
	if res, _ := r.json(t)["results"].([]any); len(res) != 5 || testkit.Dig(res[2], "status") != "rejected" || testkit.Dig(res[0], "status") != "queued" {
		t.Errorf("results: %s", r.body)
	}
	expect(t, "empty batch", post("/batch", `{"notifications":[]}`), 400, "at least one")

	msgs := n.Messages()
	if len(msgs) != 3+6 || msgs[3].BatchID == "" || msgs[3].Channel != "email" || msgs[5].To != "u2" {
		t.Errorf("messages: %+v", msgs)
	}
}
