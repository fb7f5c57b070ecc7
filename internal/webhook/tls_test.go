package webhook_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/testkit"
	"github.com/junctionhq/junction/internal/tlsfiles"
	"github.com/junctionhq/junction/internal/tlsfiles/tlstest"
)

// TestDeliveryOverMutualTLS: a `type: webhook` block's tls { ca, cert, key } reaches a
// receiver with a private CA that requires a client certificate, through the same
// address checks (the receiver is on loopback, allowed by allowed_networks).
func TestDeliveryOverMutualTLS(t *testing.T) {
	dir := t.TempDir()
	serverCA, clientCA := tlstest.NewCA(t, "receiver CA"), tlstest.NewCA(t, "junction CA")
	got := make(chan string, 10)
	rcv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.TLS.PeerCertificates[0].Subject.CommonName
	}))
	rcv.Config.ErrorLog = log.New(io.Discard, "", 0)
	rcv.TLS = &tls.Config{
		Certificates: []tls.Certificate{serverCA.Server().TLS(t)},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clientCA.Pool(),
	}
	rcv.StartTLS()
	t.Cleanup(rcv.Close)
	cert, key := clientCA.Client("junction").Write(t, dir, "client")

	s := fastSettings()
	s.TLS = &tlsfiles.Client{CA: serverCA.WriteCA(dir, "ca.pem"), Cert: cert, Key: key}
	e := newEnv(t, s, true)
	ep := e.endpoint(t, rcv.URL, "order.created")
	if _, err := e.svc.Publish(context.Background(), event.Event{ID: "evt_tls", Type: "order.created", Data: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "the delivery", func() bool { return e.delivery(t, ep.ID).Status == store.DeliveryDelivered })
	if cn := <-got; cn != "junction" {
		t.Errorf("client certificate CN %q", cn)
	}

	// Without the block's TLS, the receiver's CA is unknown: the attempt fails and says why.
	e2 := newEnv(t, fastSettings(), true)
	ep2 := e2.endpoint(t, rcv.URL, "order.created")
	if _, err := e2.svc.Publish(context.Background(), event.Event{ID: "evt_tls2", Type: "order.created", Data: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "a failed attempt", func() bool {
		d := e2.delivery(t, ep2.ID)
		return strings.Contains(d.ErrorMessage, "certificate")
	})
}
