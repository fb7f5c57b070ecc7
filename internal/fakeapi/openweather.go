package fakeapi

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/clock"
)

// OpenWeatherConfig configures the OpenWeather fake.
type OpenWeatherConfig struct {
	APIKey string      // the one valid appid; required
	Clock  clock.Clock // dt, sunrise and the forecast's times; default the wall clock
}

// OpenWeather is a fake of OpenWeather's current weather and 5-day forecast API
// (https://api.openweathermap.org/data/2.5):
//
//   - GET /data/2.5/weather and GET /data/2.5/forecast (cnt limits the forecast's 3-hour
//     steps, default 40)
//   - the location is q ("London", "London,GB", "london,uk") or lat and lon; with neither
//     the answer is 400 {"cod":"400","message":"Nothing to geocode"}, an unknown city is
//     404 {"cod":"404","message":"city not found"}, a latitude outside ±90 is 400 "wrong
//     latitude"; coordinates are answered with the nearest known city within 1°, else a
//     nameless place, as for the open sea
//   - units: standard (kelvin, the default), metric (°C) or imperial (°F)
//   - the key is the appid query parameter: missing or wrong is 401 {"cod":401,
//     "message":"Invalid API key. …"}
//
// Answers have the real API's shape (coord, weather[{id,main,description,icon}], main
// {temp, feels_like, temp_min, temp_max, pressure, humidity}, wind, name, cod; for the
// forecast cod, cnt, list[…], city{name, country, …}). SetDown(true) makes every request
// a 503, for fallback tests.
type OpenWeather struct {
	*Server
	cfg OpenWeatherConfig
}

type owCity struct {
	id                  int
	name, country       string
	lat, lon            float64
	kelvin              float64 // the temperature now
	humidity            int
	main, desc, icon    string
	conditionID, zoneTZ int
}

var owCities = []owCity{
	{2643743, "London", "GB", 51.5085, -0.1257, 285.15, 81, "Rain", "light rain", "10d", 500, 0},
	{2950159, "Berlin", "DE", 52.5244, 13.4105, 281.6, 70, "Clouds", "overcast clouds", "04d", 804, 3600},
	{2988507, "Paris", "FR", 48.8534, 2.3488, 287.4, 64, "Clouds", "scattered clouds", "03d", 802, 3600},
	{1850147, "Tokyo", "JP", 35.6895, 139.6917, 291.2, 60, "Clear", "clear sky", "01d", 800, 32400},
	{5128581, "New York", "US", 40.7143, -74.006, 283.7, 55, "Clear", "clear sky", "01n", 800, -18000},
}

// NewOpenWeather starts the fake; it is closed when the test ends.
func NewOpenWeather(t testing.TB, cfg OpenWeatherConfig) *OpenWeather {
	t.Helper()
	if cfg.APIKey == "" {
		t.Fatal("fakeapi.NewOpenWeather: APIKey is required")
	}
	o := &OpenWeather{cfg: cfg}
	o.Server = start(t, cfg.Clock, func(w http.ResponseWriter, _ *http.Request, status int) {
		msg := http.StatusText(status)
		if status == http.StatusTooManyRequests {
			msg = "Your account is temporary blocked due to exceeding of requests limitation of your subscription type. Please choose the proper subscription https://openweathermap.org/price"
		}
		writeJSON(w, status, map[string]any{"cod": status, "message": msg})
	}, http.HandlerFunc(o.serve))
	return o
}

func (o *OpenWeather) serve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if r.Method != http.MethodGet || (r.URL.Path != "/data/2.5/weather" && r.URL.Path != "/data/2.5/forecast") {
		writeJSON(w, http.StatusNotFound, map[string]any{"cod": "404", "message": "Internal error"})
		return
	}
	if q.Get("appid") != o.cfg.APIKey {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"cod": 401,
			"message": "Invalid API key. Please see https://openweathermap.org/faq#error401 for more info."})
		return
	}
	city, status, msg := locate(q)
	if status != 0 {
		writeJSON(w, status, map[string]any{"cod": strconv.Itoa(status), "message": msg})
		return
	}
	convert := owUnits(q.Get("units"))
	now := o.clock.Now().UTC()
	if r.URL.Path == "/data/2.5/weather" {
		writeJSON(w, http.StatusOK, o.current(city, now, convert))
		return
	}
	cnt := 40
	if s := q.Get("cnt"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			writeJSON(w, http.StatusBadRequest, map[string]any{"cod": "400", "message": s + " is not a valid cnt"})
			return
		}
		cnt = min(n, 40)
	}
	writeJSON(w, http.StatusOK, o.forecast(city, now, cnt, convert))
}

// locate finds the place asked for, or the error status and message.
func locate(q map[string][]string) (owCity, int, string) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if name := strings.TrimSpace(get("q")); name != "" {
		city, country, _ := strings.Cut(name, ",")
		country = strings.ToUpper(strings.TrimSpace(country))
		if country == "UK" {
			country = "GB" // OpenWeather takes the common alias
		}
		for _, c := range owCities {
			if strings.EqualFold(c.name, strings.TrimSpace(city)) && (country == "" || country == c.country) {
				return c, 0, ""
			}
		}
		return owCity{}, http.StatusNotFound, "city not found"
	}
	latS, lonS := get("lat"), get("lon")
	if latS == "" || lonS == "" {
		return owCity{}, http.StatusBadRequest, "Nothing to geocode"
	}
	lat, err := strconv.ParseFloat(latS, 64)
	if err != nil || lat < -90 || lat > 90 {
		return owCity{}, http.StatusBadRequest, "wrong latitude"
	}
	lon, err := strconv.ParseFloat(lonS, 64)
	if err != nil || lon < -180 || lon > 180 {
		return owCity{}, http.StatusBadRequest, "wrong longitude"
	}
	for _, c := range owCities {
		if math.Abs(c.lat-lat) <= 1 && math.Abs(c.lon-lon) <= 1 {
			c.lat, c.lon = lat, lon
			return c, 0, ""
		}
	}
	return owCity{id: 0, lat: lat, lon: lon, kelvin: 290.4, humidity: 78, main: "Clear", desc: "clear sky", icon: "01d", conditionID: 800}, 0, ""
}

// owUnits returns the temperature conversion from kelvin.
func owUnits(units string) func(float64) float64 {
	round := func(f float64) float64 { return math.Round(f*100) / 100 }
	switch units {
	case "metric":
		return func(k float64) float64 { return round(k - 273.15) }
	case "imperial":
		return func(k float64) float64 { return round((k-273.15)*9/5 + 32) }
	}
	return round // standard: kelvin
}

func owWeather(c owCity) []any {
	return []any{map[string]any{"id": c.conditionID, "main": c.main, "description": c.desc, "icon": c.icon}}
}

func (o *OpenWeather) current(c owCity, now time.Time, temp func(float64) float64) map[string]any {
	return map[string]any{
		"coord":   map[string]any{"lon": c.lon, "lat": c.lat},
		"weather": owWeather(c),
		"base":    "stations",
		"main": map[string]any{
			"temp": temp(c.kelvin), "feels_like": temp(c.kelvin - 1.2), "temp_min": temp(c.kelvin - 2),
			"temp_max": temp(c.kelvin + 1.5), "pressure": 1012, "humidity": c.humidity, "sea_level": 1012, "grnd_level": 1008,
		},
		"visibility": 10000,
		"wind":       map[string]any{"speed": 4.12, "deg": 250},
		"clouds":     map[string]any{"all": 75},
		"dt":         now.Unix(),
		"sys": map[string]any{"type": 2, "id": 2075535, "country": nullable(c.country),
			"sunrise": now.Truncate(24 * time.Hour).Add(6 * time.Hour).Unix(), "sunset": now.Truncate(24 * time.Hour).Add(18 * time.Hour).Unix()},
		"timezone": c.zoneTZ, "id": c.id, "name": c.name, "cod": 200,
	}
}

func (o *OpenWeather) forecast(c owCity, now time.Time, cnt int, temp func(float64) float64) map[string]any {
	first := now.Truncate(3 * time.Hour).Add(3 * time.Hour)
	list := make([]any, cnt)
	for i := range cnt {
		at := first.Add(time.Duration(i) * 3 * time.Hour)
		k := c.kelvin + 3*math.Sin(float64(at.Hour()-9)*math.Pi/12) // warmer in the afternoon
		list[i] = map[string]any{
			"dt": at.Unix(),
			"main": map[string]any{"temp": temp(k), "feels_like": temp(k - 1), "temp_min": temp(k - 0.5), "temp_max": temp(k + 0.5),
				"pressure": 1013, "humidity": c.humidity},
			"weather": owWeather(c), "clouds": map[string]any{"all": 40}, "wind": map[string]any{"speed": 3.6, "deg": 240},
			"visibility": 10000, "pop": 0.2, "dt_txt": at.Format("2006-01-02 15:04:05"),
		}
	}
	return map[string]any{
		"cod": "200", "message": 0, "cnt": cnt, "list": list,
		"city": map[string]any{"id": c.id, "name": c.name, "coord": map[string]any{"lat": c.lat, "lon": c.lon},
			"country": c.country, "population": 1000000, "timezone": c.zoneTZ,
			"sunrise": now.Truncate(24 * time.Hour).Add(6 * time.Hour).Unix(), "sunset": now.Truncate(24 * time.Hour).Add(18 * time.Hour).Unix()},
	}
}
