// Command webhook-receiver is a local endpoint for trying Junction's webhooks: it answers
// every POST with 204 and prints the delivery, and, given the endpoint's secret, whether
// its signatures are valid (verify.go shows how a receiver checks them).
//
//	WEBHOOK_SECRET=whsec_… go run ./examples/webhook-receiver -addr 127.0.0.1:9099
package main

import (
	"flag"
	"io"
	"log"
	"net/http"
	"os"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9099", "listen address")
	flag.Parse()
	secret := os.Getenv("WEBHOOK_SECRET")
	http.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "could not read the body", http.StatusBadRequest)
			return
		}
		verdict := "not checked (set WEBHOOK_SECRET)"
		if secret != "" {
			verdict = "valid"
			if err := verify(secret, r.Header, body, time.Now()); err != nil {
				verdict = "INVALID: " + err.Error()
			}
		}
		log.Printf("%s %s webhook-id=%s signature %s\n%s", r.Method, r.URL.Path, r.Header.Get("webhook-id"), verdict, body)
		w.WriteHeader(http.StatusNoContent)
	})
	log.Printf("webhook receiver on http://%s/hook", *addr)
	log.Fatal(http.ListenAndServe(*addr, nil))
}
