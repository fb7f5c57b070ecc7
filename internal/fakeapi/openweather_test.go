package fakeapi_test

import (
	"testing"

	"github.com/junctionhq/junction/internal/fakeapi"
	"github.com/junctionhq/junction/internal/testkit"
)

func TestOpenWeather(t *testing.T) {
	ow := fakeapi.NewOpenWeather(t, fakeapi.OpenWeatherConfig{APIKey: "owm-key"})
	get := func(path string) reply { return send(t, "GET", ow.URL()+path, "") }

	expect(t, "no key", get("/data/2.5/weather?q=London"), 401, `"cod":401`, "Invalid API key")
	expect(t, "wrong key", get("/data/2.5/weather?q=London&appid=nope"), 401, "Invalid API key")
	expect(t, "no location", get("/data/2.5/weather?appid=owm-key"), 400, `{"cod":"400","message":"Nothing to geocode"}`)
	expect(t, "lat without lon", get("/data/2.5/weather?appid=owm-key&lat=1"), 400, "Nothing to geocode")
	expect(t, "bad latitude", get("/data/2.5/weather?appid=owm-key&lat=95&lon=1"), 400, "wrong latitude")
	expect(t, "unknown city", get("/data/2.5/weather?appid=owm-key&q=Atlantis"), 404, `"message":"city not found"`)

	r := get("/data/2.5/weather?appid=owm-key&q=london,uk&units=metric")
	expect(t, "metric", r, 200)
	m := r.json(t)
	if m["name"] != "London" || testkit.Dig(m, "main", "temp") != 12.0 || testkit.Dig(m, "weather", 0, "main") != "Rain" || testkit.Dig(m, "sys", "country") != "GB" {
		t.Errorf("London, metric: %s", r.body)
	}
	if temp := testkit.Dig(get("/data/2.5/weather?appid=owm-key&q=London&units=imperial").json(t), "main", "temp"); temp != 53.6 {
		t.Errorf("imperial temp = %v, want 53.6", temp)
	}
	if temp := testkit.Dig(get("/data/2.5/weather?appid=owm-key&q=London").json(t), "main", "temp"); temp != 285.15 {
		t.Errorf("standard (kelvin) temp = %v", temp)
	}
	if name := testkit.Dig(get("/data/2.5/weather?appid=owm-key&lat=52.52&lon=13.405").json(t), "name"); name != "Berlin" {
		t.Errorf("coordinates: %v", name)
	}

	f := get("/data/2.5/forecast?appid=owm-key&q=Tokyo&cnt=5&units=metric").json(t)
	if f["cnt"] != float64(5) || len(f["list"].([]any)) != 5 || testkit.Dig(f, "city", "country") != "JP" || testkit.Dig(f, "list", 0, "main", "humidity") != float64(60) {
		t.Errorf("forecast: %v", f)
	}
	ow.SetDown(true)
	expect(t, "down", get("/data/2.5/weather?appid=owm-key&q=London"), 503)
}
