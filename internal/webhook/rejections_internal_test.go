package webhook

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/junctionhq/junction/internal/inbound"
)

// A rejection's reason never shows the source's secret or a signature the request
// carried, even if an error quoted them: the reason is shown to every user token.
func TestRejectionReasonMasksSecretsAndSignatures(t *testing.T) {
	src := &Source{Name: "s", Verifier: inbound.Verifier{Scheme: inbound.HMAC, Header: "X-Sig", Secrets: []string{"hunter2-secret"}}}
	h := http.Header{}
	h.Set("X-Sig", "sha256=0123456789abcdef0123456789abcdef")
	h.Set("Stripe-Signature", "t=1700000000,v1=fedcba9876543210fedcba9876543210")
	h.Set("Webhook-Signature", "v1,c2lnbmF0dXJlLWluLWJhc2U2NA==")
	err := errors.New("sha256 check: key hunter2-secret, got 0123456789abcdef0123456789abcdef, " +
		"stripe fedcba9876543210fedcba9876543210, webhook v1,c2lnbmF0dXJlLWluLWJhc2U2NA==")
	got := rejectionReason(src, h, err)
	for _, leak := range []string{"hunter2-secret", "0123456789abcdef", "fedcba9876543210", "c2lnbmF0dXJlLWluLWJhc2U2NA"} {
		if strings.Contains(got, leak) {
			t.Errorf("reason %q holds %q", got, leak)
		}
	}
	if !strings.HasPrefix(got, "sha256 check: key ") {
		t.Errorf("reason %q lost its words", got)
	}
}
