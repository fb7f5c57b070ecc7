// Command weather-api is a local stand-in for the Open-Meteo forecast API that
// examples/quickstart.cai's Weather integration calls, for trying Junction on a machine
// without internet access:
//
//	go run ./examples/weather-api -addr 127.0.0.1:9098
//	WEATHER_URL=http://127.0.0.1:9098/v1 go run ./cmd/junction serve -c examples/quickstart.cai
//
// GET /v1/forecast?latitude=…&longitude=… answers 24 hourly temperatures in Open-Meteo's
// shape; a missing or non-numeric coordinate is a 400 with Open-Meteo's error body.
package main

import (
	"encoding/json"
	"flag"
	"log"
	"math"
	"net/http"
	"strconv"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9098", "listen address")
	flag.Parse()
	http.HandleFunc("GET /v1/forecast", forecast)
	log.Printf("weather API on http://%s/v1", *addr)
	log.Fatal(http.ListenAndServe(*addr, nil))
}

func forecast(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	lat, errLat := strconv.ParseFloat(r.URL.Query().Get("latitude"), 64)
	lon, errLon := strconv.ParseFloat(r.URL.Query().Get("longitude"), 64)
	if errLat != nil || errLon != nil {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": true, "reason": "Parameter 'latitude' and 'longitude' must be numbers"})
		return
	}
	day := time.Now().UTC().Truncate(24 * time.Hour)
	times := make([]string, 24)
	temps := make([]float64, 24)
	for h := range times {
		times[h] = day.Add(time.Duration(h) * time.Hour).Format("2006-01-02T15:04")
		// A plausible day: coolest before dawn, warmest mid-afternoon, colder far from the equator.
		temps[h] = math.Round((25-math.Abs(lat)/3+6*math.Sin(float64(h-9)*math.Pi/12))*10) / 10
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"latitude": lat, "longitude": lon,
		"hourly": map[string]any{"time": times, "temperature_2m": temps},
	})
}
