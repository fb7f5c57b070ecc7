package catalog_test

import (
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/junctionhq/junction/internal/catalog"
	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/fakeapi"
	"github.com/junctionhq/junction/internal/inbound"
	"github.com/junctionhq/junction/internal/integration"
	"github.com/junctionhq/junction/internal/testkit"
)

// entryTests run each catalog entry, as a configuration uses it, through the runtime
// against a local fake of its API: its operations, its error answers and its rate
// limit (or, for a self-hosted service without one, its unavailability).
var entryTests = map[string]func(*testing.T){
	"github":             testGitHub,
	"github-graphql":     testGitHubGraphQL,
	"stripe":             testStripe,
	"openweather":        testOpenWeather,
	"s3":                 testS3,
	"sendgrid":           testSendGrid,
	"slack":              testSlack,
	"tensorflow-serving": testTFServing,
	"huggingface":        testHuggingFace,
	"lightning":          testLightning,
	"exchange-ticker":    testExchangeTicker,
}

// TestEntries runs every entry's test; an entry without one fails.
func TestEntries(t *testing.T) {
	for _, name := range catalog.Names() {
		test, ok := entryTests[name]
		if !ok {
			t.Errorf("catalog entry %q has no test against a fake of its API (entryTests)", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t)
		})
	}
	for name := range entryTests {
		if !slices.Contains(catalog.Names(), name) {
			t.Errorf("entryTests has %q, which is not a catalog entry", name)
		}
	}
}

func testGitHub(t *testing.T) {
	clk := newClock()
	gh := fakeapi.NewGitHub(t, fakeapi.GitHubConfig{Token: "ghp_catalog", Clock: clk})
	e := useEntry(t, clk, "GitHub", `integration GitHub from catalog "github" { base_url: "`+gh.URL()+`" }`, map[string]string{"GITHUB_TOKEN": "ghp_catalog"})

	res := e.call(t, "get_user", map[string]any{"username": "octocat"})
	want(t, res, 200, `"login":"octocat"`)
	if len(res.ContractMismatches) > 0 {
		t.Errorf("get_user drifts from the entry's returns: %v", res.ContractMismatches)
	}
	sent := gh.Requests()[0]
	if sent.Header.Get("Authorization") != "Bearer ghp_catalog" || sent.Header.Get("X-GitHub-Api-Version") != "2022-11-28" || sent.Header.Get("Accept") != "application/vnd.github+json" {
		t.Errorf("GitHub got headers %v", sent.Header)
	}
	want(t, e.call(t, "get_authenticated_user", nil), 200, `"login":"octocat"`)
	repos := e.call(t, "list_repos", map[string]any{"per_page": 2, "sort": "full_name"})
	want(t, repos, 200)
	if len(repos.ContractMismatches) > 0 || !strings.HasPrefix(string(repos.Body), "[") {
		t.Errorf("list_repos: %s %v", repos.Body, repos.ContractMismatches)
	}
	want(t, e.call(t, "create_issue", map[string]any{"owner": "octocat", "repo": "hello-world", "title": "From the catalog", "labels": []any{"bug"}}), 201, `"title":"From the catalog"`)
	want(t, e.call(t, "get_rate_limit", nil), 200, `"core"`)

	// Errors as GitHub sends them: an unknown user, a missing title.
	want(t, e.call(t, "get_user", map[string]any{"username": "no-such-user-here"}), 404, `"message":"Not Found"`)
	_, err := e.try(t, "create_issue", map[string]any{"owner": "octocat", "repo": "hello-world"}, integration.CallOptions{})
	wantKind(t, err, integration.KindInvalidParams)

	// A secondary rate limit is 429 with Retry-After: the retry waits that long.
	gh.RateLimitNext(1, 3*time.Second)
	res = e.call(t, "get_user", map[string]any{"username": "hubot"})
	want(t, res, 200)
	if res.Attempts != 2 {
		t.Errorf("attempts = %d, want 2", res.Attempts)
	}
	sleptAtLeast(t, clk, 3*time.Second)

	// The primary quota exhausted is 403 with X-RateLimit-Remaining: 0, answered as it
	// came (not retried: it lasts until the reset).
	gh.SetRateLimitRemaining(0)
	before := len(gh.Requests())
	res = e.call(t, "get_user", map[string]any{"username": "octo-org"})
	want(t, res, 403, "API rate limit exceeded")
	if res.Header.Get("X-RateLimit-Remaining") != "0" || len(gh.Requests()) != before+1 {
		t.Errorf("403: remaining %q, %d requests", res.Header.Get("X-RateLimit-Remaining"), len(gh.Requests())-before)
	}

	// A wrong token is GitHub's 401.
	bad := useEntry(t, clk, "GitHub", `integration GitHub from catalog "github" { base_url: "`+gh.URL()+`" }`, map[string]string{"GITHUB_TOKEN": "ghp_wrong"})
	want(t, bad.call(t, "get_authenticated_user", nil), 401, "Bad credentials")

	// The entry's webhook source verifies GitHub's X-Hub-Signature-256.
	verifySource(t, `source Hooks from catalog "github" {}`, "GITHUB_WEBHOOK_SECRET", inbound.GitHub)
}

func testGitHubGraphQL(t *testing.T) {
	clk := newClock()
	gq := fakeapi.NewGitHubGraphQL(t, fakeapi.GitHubGraphQLConfig{Token: "ghp_catalog", Clock: clk})
	e := useEntry(t, clk, "GH", `integration GH from catalog "github-graphql" { base_url: "`+gq.URL()+`/graphql" }`, map[string]string{"GITHUB_TOKEN": "ghp_catalog"})

	want(t, e.call(t, "viewer", nil), 200, `"login":"octocat"`)
	res := e.call(t, "get_user_repos", map[string]any{"login": "octocat", "first": 2})
	want(t, res, 200, `"totalCount"`)
	if n := testkit.Dig(object(t, res), "data", "user", "repositories", "nodes"); len(n.([]any)) != 2 {
		t.Errorf("nodes = %v", n)
	}
	want(t, e.call(t, "search_repos", map[string]any{"query": "hello"}), 200, `"repositoryCount"`)
	id := gq.RepositoryID("octocat", "hello-world")
	want(t, e.call(t, "create_issue", map[string]any{"repositoryId": id, "title": "Via GraphQL"}), 200, `"title":"Via GraphQL"`)

	// GraphQL's failures arrive with HTTP 200 and fail the call.
	_, err := e.try(t, "get_user_repos", map[string]any{"login": "no-such-user-here"}, integration.CallOptions{})
	if ge := wantKind(t, err, integration.KindGraphQL); !strings.Contains(strings.ToLower(string(mustJSON(ge.GraphQL))), "not_found") {
		t.Errorf("graphql errors = %v", ge.GraphQL)
	}

	// A rate limit answer comes back as it came (a GraphQL POST is not retried).
	gq.RateLimitNext(1, 2*time.Second)
	res, err = e.try(t, "viewer", nil, integration.CallOptions{})
	if err != nil || res.Status != 429 || res.Header.Get("Retry-After") != "2" {
		t.Errorf("rate limited: %v %+v", err, res)
	}
}

func testStripe(t *testing.T) {
	clk := newClock()
	st := fakeapi.NewStripe(t, fakeapi.StripeConfig{SecretKey: "sk_test_catalog", Clock: clk, FormOnly: true})
	e := useEntry(t, clk, "Stripe", `integration Stripe from catalog "stripe" { base_url: "`+st.URL()+`/v1" }`, map[string]string{"STRIPE_SECRET_KEY": "sk_test_catalog"})

	// Bodies are forms, nested values in Stripe's bracket notation, and each POST
	// carries an idempotency key.
	res := e.call(t, "create_customer", map[string]any{"email": "ada@example.com", "name": "Ada", "metadata": map[string]any{"order": "42", "tier": "gold"}})
	want(t, res, 200, `"email":"ada@example.com"`)
	customer := object(t, res)["id"].(string)
	if c, _ := st.Customer(customer); testkit.Dig(c, "metadata", "order") != "42" || testkit.Dig(c, "metadata", "tier") != "gold" {
		t.Errorf("customer stored as %v", c)
	}
	sent := st.Requests()[0]
	if sent.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || sent.Header.Get("Idempotency-Key") == "" ||
		sent.Header.Get("Stripe-Version") != "2024-06-20" || !strings.Contains(string(sent.Body), "metadata%5Border%5D=42") {
		t.Errorf("Stripe got %v %s", sent.Header, sent.Body)
	}
	want(t, e.call(t, "get_customer", map[string]any{"id": customer}), 200, customer)

	res = e.call(t, "create_payment_intent", map[string]any{"amount": 2000, "customer": customer, "payment_method": "pm_card_visa"})
	want(t, res, 200, `"status":"requires_confirmation"`, `"payment_method_types":["card"]`)
	intent := object(t, res)["id"].(string)
	res = e.call(t, "confirm_payment_intent", map[string]any{"id": intent})
	want(t, res, 200, `"status":"succeeded"`, `"amount_received":2000`)
	want(t, e.call(t, "create_refund", map[string]any{"payment_intent": intent, "amount": 500, "reason": "requested_by_customer"}), 200, `"amount":500`)

	// A declined card is Stripe's 402 card_error, as it came; a missing parameter 400.
	declined := object(t, e.call(t, "create_payment_intent", map[string]any{"amount": 1500}))["id"].(string)
	want(t, e.call(t, "confirm_payment_intent", map[string]any{"id": declined, "payment_method": "pm_card_chargeDeclined"}), 402, `"type":"card_error"`, `"decline_code":"generic_decline"`)
	want(t, e.call(t, "get_payment_intent", map[string]any{"id": "pi_missing"}), 404, "resource_missing")

	// 429 with Retry-After: retried after the wait, with the same idempotency key.
	before := len(st.Requests())
	st.RateLimitNext(1, 2*time.Second)
	res = e.call(t, "create_customer", map[string]any{"email": "grace@example.com"})
	want(t, res, 200)
	sleptAtLeast(t, clk, 2*time.Second)
	rs := st.Requests()[before:]
	if len(rs) != 2 || rs[0].Header.Get("Idempotency-Key") != rs[1].Header.Get("Idempotency-Key") {
		t.Errorf("retry after 429: %d requests", len(rs))
	}

	// A lost answer: Stripe did the work; the retry's same key replays it, so there is
	// still one customer.
	customers := len(st.Customers())
	st.LoseNextResponses(1, http.StatusServiceUnavailable)
	res = e.call(t, "create_customer", map[string]any{"email": "lin@example.com"})
	want(t, res, 200, "lin@example.com")
	if res.Header.Get("Idempotent-Replayed") != "true" || len(st.Customers()) != customers+1 {
		t.Errorf("replayed %q, %d customers, want %d", res.Header.Get("Idempotent-Replayed"), len(st.Customers()), customers+1)
	}

	// The entry's webhook source verifies Stripe-Signature as Stripe's own library signs it.
	verifySource(t, `source Payments from catalog "stripe" {}`, "STRIPE_WEBHOOK_SECRET", inbound.Stripe)
}

func testOpenWeather(t *testing.T) {
	clk := newClock()
	ow := fakeapi.NewOpenWeather(t, fakeapi.OpenWeatherConfig{APIKey: "ow-key", Clock: clk})
	e := useEntry(t, clk, "Weather", `integration Weather from catalog "openweather" { base_url: "`+ow.URL()+`/data/2.5" }`, map[string]string{"OPENWEATHER_API_KEY": "ow-key"})

	res := e.call(t, "get_current", map[string]any{"q": "London"})
	want(t, res, 200, `"name":"London"`)
	if q := ow.Requests()[0].Query; q.Get("appid") != "ow-key" || q.Get("units") != "metric" || len(res.ContractMismatches) > 0 {
		t.Errorf("query %v, mismatches %v", q, res.ContractMismatches)
	}
	if again := e.call(t, "get_current", map[string]any{"q": "London"}); again.Cache != integration.CacheHit {
		t.Errorf("second call cache %q, want a hit", again.Cache)
	}
	want(t, e.call(t, "get_forecast", map[string]any{"q": "Berlin", "cnt": 2}), 200, `"country":"DE"`)
	want(t, e.call(t, "get_current", map[string]any{"q": "Atlantis"}), 404, "city not found")

	ow.RateLimitNext(1, time.Second)
	res = e.call(t, "get_current", map[string]any{"q": "Paris"})
	want(t, res, 200, `"name":"Paris"`)
	sleptAtLeast(t, clk, time.Second)

	bad := useEntry(t, clk, "Weather", `integration Weather from catalog "openweather" { base_url: "`+ow.URL()+`/data/2.5" }`, map[string]string{"OPENWEATHER_API_KEY": "wrong"})
	want(t, bad.call(t, "get_current", map[string]any{"q": "Tokyo"}), 401, "Invalid API key")
}

func testSendGrid(t *testing.T) {
	clk := newClock()
	sg := fakeapi.NewSendGrid(t, fakeapi.SendGridConfig{APIKey: "SG.catalog", VerifiedSenders: []string{"noreply@example.com"}, Clock: clk})
	e := useEntry(t, clk, "Mail", `integration Mail from catalog "sendgrid" { base_url: "`+sg.URL()+`/v3" }`, map[string]string{"SENDGRID_API_KEY": "SG.catalog"})
	message := func(from string) map[string]any {
		return map[string]any{
			"personalizations": []any{map[string]any{"to": []any{map[string]any{"email": "ada@example.com"}}}},
			"from":             map[string]any{"email": from}, "subject": "Hello",
			"content": []any{map[string]any{"type": "text/plain", "value": "Hi Ada"}},
		}
	}
	res := e.call(t, "send_mail", message("noreply@example.com"))
	want(t, res, 202)
	if sent := sg.Sent(); len(sent) != 1 || sent[0].To[0] != "ada@example.com" || res.Header.Get("X-Message-Id") != sent[0].ID {
		t.Errorf("sent %+v, X-Message-Id %q", sent, res.Header.Get("X-Message-Id"))
	}

	bad := message("noreply@example.com")
	delete(bad, "content")
	want(t, e.call(t, "send_mail", bad), 400, `"field":"content"`)
	want(t, e.call(t, "send_mail", message("someone@elsewhere.example")), 403, "verified Sender Identity")

	// Over the quota: 429, answered as it came (a send is not retried).
	sg.SetRemaining(0)
	before := len(sg.Requests())
	res = e.call(t, "send_mail", message("noreply@example.com"))
	want(t, res, 429, "too many requests")
	if res.Header.Get("X-RateLimit-Remaining") != "0" || len(sg.Requests()) != before+1 {
		t.Errorf("429: remaining %q, %d requests", res.Header.Get("X-RateLimit-Remaining"), len(sg.Requests())-before)
	}
	wrong := useEntry(t, clk, "Mail", `integration Mail from catalog "sendgrid" { base_url: "`+sg.URL()+`/v3" }`, map[string]string{"SENDGRID_API_KEY": "SG.wrong"})
	want(t, wrong.call(t, "send_mail", message("noreply@example.com")), 401, "authorization grant is invalid")
}

func testSlack(t *testing.T) {
	clk := newClock()
	sl := fakeapi.NewSlack(t, fakeapi.SlackConfig{Token: "xoxb-catalog", Channels: []string{"general", "alerts"}, Clock: clk})
	e := useEntry(t, clk, "Slack", `integration Slack from catalog "slack" { base_url: "`+sl.URL()+`/api" }`, map[string]string{"SLACK_BOT_TOKEN": "xoxb-catalog"})

	res := e.call(t, "post_message", map[string]any{"channel": "#alerts", "text": "Deploy finished"})
	want(t, res, 200, `"ok":true`)
	ts := object(t, res)["ts"].(string)
	want(t, e.call(t, "update_message", map[string]any{"channel": sl.ChannelID("alerts"), "ts": ts, "text": "Deploy finished (edited)"}), 200, `"ok":true`)
	if m := sl.Messages(); len(m) != 1 || !m[0].Edited || m[0].Text != "Deploy finished (edited)" {
		t.Errorf("messages = %+v", m)
	}
	want(t, e.call(t, "auth_test", nil), 200, `"ok":true`, `"team":"Junction Test"`)
	want(t, e.call(t, "list_conversations", map[string]any{"limit": 1}), 200, `"next_cursor":"next:`)

	// Slack's failures are HTTP 200 with ok: false.
	want(t, e.call(t, "post_message", map[string]any{"channel": "#nowhere", "text": "x"}), 200, `"ok":false`, `"error":"channel_not_found"`)
	want(t, e.call(t, "post_message", map[string]any{"channel": "#general"}), 200, `"error":"no_text"`)

	// 429 with Retry-After: a read is retried after it, a post comes back as it came.
	sl.RateLimitNext(1, 2*time.Second)
	want(t, e.call(t, "auth_test", nil), 200, `"ok":true`)
	sleptAtLeast(t, clk, 2*time.Second)
	sl.RateLimitNext(1, 2*time.Second)
	want(t, e.call(t, "post_message", map[string]any{"channel": "#general", "text": "x"}), 429, `"error":"ratelimited"`)

	wrong := useEntry(t, clk, "Slack", `integration Slack from catalog "slack" { base_url: "`+sl.URL()+`/api" }`, map[string]string{"SLACK_BOT_TOKEN": "xoxb-wrong"})
	want(t, wrong.call(t, "auth_test", nil), 200, `"error":"invalid_auth"`)
}

func testTFServing(t *testing.T) {
	clk := newClock()
	tf := fakeapi.NewTFServing(t, fakeapi.TFServingConfig{})
	e := useEntry(t, clk, "Model", `integration Model from catalog "tensorflow-serving"`, map[string]string{"TF_SERVING_URL": tf.URL()})

	want(t, e.call(t, "predict", map[string]any{"model": fakeapi.TFServingModel, "instances": []any{1.0, 2.0, 5.0}}), 200, `"predictions":[2.5,3,4.5]`)
	want(t, e.call(t, "predict", map[string]any{"model": fakeapi.TFServingModel, "inputs": []any{4}}), 200, `"outputs":[4]`)
	want(t, e.call(t, "predict_version", map[string]any{"model": fakeapi.TFServingModel, "version": 123, "instances": []any{0}}), 200, `"predictions":[2]`)
	want(t, e.call(t, "model_status", map[string]any{"model": fakeapi.TFServingModel}), 200, `"state":"AVAILABLE"`)
	want(t, e.call(t, "model_metadata", map[string]any{"model": fakeapi.TFServingModel}), 200, `"serving_default"`)

	want(t, e.call(t, "predict", map[string]any{"model": "resnet", "instances": []any{1}}), 404, "Servable not found for request: Latest(resnet)")
	want(t, e.call(t, "predict_version", map[string]any{"model": fakeapi.TFServingModel, "version": 7, "instances": []any{1}}), 404, "Specific(half_plus_two, 7)")
	want(t, e.call(t, "predict", map[string]any{"model": fakeapi.TFServingModel, "instances": []any{"a"}}), 400, "is not of expected type: float")
	want(t, e.call(t, "predict", map[string]any{"model": fakeapi.TFServingModel}), 400, "Missing 'inputs' or 'instances' key")

	// TensorFlow Serving has no rate limit; an unavailable server is retried.
	tf.FailNext(1, http.StatusServiceUnavailable)
	if res := e.call(t, "model_status", map[string]any{"model": fakeapi.TFServingModel}); res.Status != 200 || res.Attempts != 2 {
		t.Errorf("after a 503: status %d, %d attempts", res.Status, res.Attempts)
	}
}

func testHuggingFace(t *testing.T) {
	clk := newClock()
	hf := fakeapi.NewHuggingFace(t, fakeapi.HuggingFaceConfig{Token: "hf_catalog", Cold: []string{fakeapi.HuggingFaceSentiment}})
	const use = `integration HF from catalog "huggingface" { base_url: "URL/hf-inference" }`
	e := useEntry(t, clk, "HF", src(use, "URL", hf.URL()), map[string]string{"HF_TOKEN": "hf_catalog"})

	// The model is cold: the entry's X-Wait-For-Model makes the request wait for it.
	res := e.call(t, "infer", map[string]any{"model": fakeapi.HuggingFaceSentiment, "inputs": "I love how fast this works"})
	want(t, res, 200, `[[{"label":"POSITIVE"`)
	want(t, e.call(t, "infer", map[string]any{"model": fakeapi.HuggingFaceSentiment, "inputs": []any{"awful", "great"}}), 200, `[[{"label":"NEGATIVE"`)

	// A block that turns the header off sees the cold model's 503.
	cold := fakeapi.NewHuggingFace(t, fakeapi.HuggingFaceConfig{Token: "hf_catalog", Cold: []string{fakeapi.HuggingFaceSentiment}})
	noWait := useEntry(t, clk, "HF", `integration HF from catalog "huggingface" {
    base_url: "`+cold.URL()+`/hf-inference"
    headers: { "X-Wait-For-Model": "false" }
}`, map[string]string{"HF_TOKEN": "hf_catalog"})
	want(t, noWait.call(t, "infer", map[string]any{"model": fakeapi.HuggingFaceSentiment, "inputs": "hi"}), 503, "is currently loading", `"estimated_time"`)

	want(t, e.call(t, "infer", map[string]any{"model": "nobody/nothing", "inputs": "x"}), 404, "does not exist")
	hf.RateLimitNext(1, 3*time.Second)
	res = e.call(t, "infer", map[string]any{"model": fakeapi.HuggingFaceSentiment, "inputs": "x"})
	want(t, res, 429, "Rate limit reached")
	if res.Header.Get("Retry-After") != "3" {
		t.Errorf("Retry-After %q", res.Header.Get("Retry-After"))
	}
	wrong := useEntry(t, clk, "HF", src(use, "URL", hf.URL()), map[string]string{"HF_TOKEN": "hf_wrong"})
	want(t, wrong.call(t, "infer", map[string]any{"model": fakeapi.HuggingFaceSentiment, "inputs": "x"}), 401, "Invalid credentials")
}

func testLightning(t *testing.T) {
	clk := newClock()
	macaroon := []byte{0x02, 0x01, 0x03, 0x6c, 0x6e, 0x64, 0x02, 0xf8, 0x01}
	ln := fakeapi.NewLightning(t, fakeapi.LightningConfig{Macaroon: macaroon, Clock: clk})
	ca := filepath.Join(t.TempDir(), "tls.cert")
	if err := os.WriteFile(ca, ln.CACert(), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"LND_REST_URL": ln.URL(), "LND_MACAROON_HEX": hex.EncodeToString(macaroon)}
	e := useEntry(t, clk, "LND", `integration LND from catalog "lightning" { tls { ca: "`+ca+`" } }`, env)

	res := e.call(t, "get_info", nil)
	want(t, res, 200, `"alias":"junction-test"`, `"synced_to_chain":true`)
	if len(res.ContractMismatches) > 0 {
		t.Errorf("get_info drifts: %v", res.ContractMismatches)
	}
	want(t, e.call(t, "channel_balance", nil), 200, `"local_balance":{"msat":"150000000","sat":"150000"}`)
	want(t, e.call(t, "wallet_balance", nil), 200, `"confirmed_balance":"1000000"`)

	res = e.call(t, "add_invoice", map[string]any{"value": 1000, "memo": "coffee"})
	want(t, res, 200, `"payment_request":"lnbcrt`)
	hash, err := base64.StdEncoding.DecodeString(object(t, res)["r_hash"].(string))
	if err != nil {
		t.Fatal(err)
	}
	want(t, e.call(t, "lookup_invoice", map[string]any{"r_hash": hex.EncodeToString(hash)}), 200, `"memo":"coffee"`, `"state":"OPEN"`, `"value":"1000"`)
	want(t, e.call(t, "lookup_invoice", map[string]any{"r_hash": strings.Repeat("00", 32)}), 404, "unable to locate invoice")

	want(t, e.call(t, "send_payment", map[string]any{"payment_request": ln.PayableInvoice(250, "tea")}), 200, `"payment_error":""`)
	want(t, e.call(t, "send_payment", map[string]any{"payment_request": "lnbcrt2500n1punknowndestination00"}), 200, `"payment_error":"unable to find a path to destination"`)
	want(t, e.call(t, "send_payment", map[string]any{"payment_request": "lnbc1x"}), 500, "invalid bech32 string")

	// A wrong macaroon is LND's 500; without the node's CA the TLS handshake fails.
	env["LND_MACAROON_HEX"] = hex.EncodeToString([]byte("not the macaroon"))
	wrong := useEntry(t, clk, "LND", `integration LND from catalog "lightning" { tls { ca: "`+ca+`" } }`, env)
	want(t, wrong.call(t, "get_info", nil), 500, "verification failed: signature mismatch")
	untrusted := useEntry(t, clk, "LND", `integration LND from catalog "lightning" { retry: 0 times }`, env)
	_, err = untrusted.try(t, "get_info", nil, integration.CallOptions{})
	if e := wantKind(t, err, integration.KindUnreachable); !strings.Contains(e.Error(), "certificate") {
		t.Errorf("without the CA: %v", e)
	}

	// LND has no rate limit; an unavailable node is retried.
	ln.FailNext(1, http.StatusServiceUnavailable)
	if res := e.call(t, "get_info", nil); res.Status != 200 || res.Attempts != 2 {
		t.Errorf("after a 503: status %d, %d attempts", res.Status, res.Attempts)
	}
}

// verifySource decodes a source that uses a catalog entry and checks that its verifier
// accepts what the provider signs and refuses a changed body.
func verifySource(t *testing.T, decl, secretVar string, scheme inbound.Scheme) {
	t.Helper()
	cfg, diags := config.Decode("source.cai", []byte(decl))
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	src := cfg.Sources[0]
	if src.Verify != string(scheme) || src.Secret.Refs()[0] != secretVar {
		t.Fatalf("source = %+v", src)
	}
	const secret = "whsec_catalog_test"
	v := inbound.Verifier{Scheme: scheme, Secrets: []string{secret}, Tolerance: src.Tolerance}
	body := []byte(`{"id":"evt_1","type":"payment_intent.succeeded","object":"event"}`)
	h := http.Header{}
	switch scheme {
	case inbound.Stripe:
		signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: time.Now()})
		h.Set(inbound.HeaderStripeSignature, signed.Header)
	case inbound.GitHub:
		h.Set("X-Hub-Signature-256", githubSignature(secret, body))
		h.Set(inbound.HeaderGitHubDelivery, "72d3162e-cc78-11e3-81ab-4c9367dc0958")
		h.Set("X-GitHub-Event", "push")
	}
	if _, err := v.Verify(h, body); err != nil {
		t.Errorf("%s source refused a genuine delivery: %v", scheme, err)
	}
	if _, err := v.Verify(h, append(body, ' ')); err == nil {
		t.Errorf("%s source accepted a changed body", scheme)
	}
}

func mustJSON(v any) []byte {
	b, _ := jsonMarshal(v)
	return b
}
