// Command customer-service is a stand-in for the customer service that
// examples/order-sync.cai enriches orders from: GET /customers/{id} answers
// {"id","name","tier"}; ids starting with "missing" are 404.
//
//	go run ./examples/customer-service -addr 127.0.0.1:9000
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"strings"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "listen address")
	flag.Parse()
	http.HandleFunc("GET /customers/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if strings.HasPrefix(id, "missing") {
			http.Error(w, `{"error":"no such customer"}`, http.StatusNotFound)
			return
		}
		tier := "standard"
		if strings.HasSuffix(id, "7") {
			tier = "gold"
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"id": id, "name": "Customer " + id, "tier": tier})
	})
	log.Printf("customer service on http://%s", *addr)
	log.Fatal(http.ListenAndServe(*addr, nil))
}
