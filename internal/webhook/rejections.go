package webhook

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/junctionhq/junction/internal/inbound"
	"github.com/junctionhq/junction/internal/redact"
	"github.com/junctionhq/junction/internal/webhook/signing"
)

// A refused webhook (a bad or missing signature, a payload that cannot be passed on, a
// misconfigured source) is never stored: nothing unverified is kept. Yet whoever sets up
// a provider needs to see why Junction refused it, so the last refusals of each source
// are kept in memory, without the body, and listed at GET /inbound/rejections. They are
// this process's own and are lost on restart; a reload keeps them.

// RejectionsKept is how many refusals are kept per source; older ones are dropped.
const RejectionsKept = 100

// Rejection is one refused webhook.
type Rejection struct {
	Source string
	At     time.Time
	// Reason says why, as the provider's answer did; it never holds the source's secret
	// or a signature sent.
	Reason        string
	RemoteAddr    string // the sender as the connection showed it (a proxy's address behind one)
	ContentLength int64  // the request's Content-Length; -1 when it had none
}

// Rejections keeps the last RejectionsKept refusals of each source. It is safe for
// concurrent use; the runtime hands it from one webhook service to the next on reload.
type Rejections struct {
	mu       sync.Mutex
	bySource map[string][]Rejection // oldest first
}

// NewRejections returns an empty log.
func NewRejections() *Rejections { return &Rejections{bySource: map[string][]Rejection{}} }

func (r *Rejections) add(x Rejection) {
	r.mu.Lock()
	defer r.mu.Unlock()
	kept := r.bySource[x.Source]
	if len(kept) == RejectionsKept {
		copy(kept, kept[1:])
		kept = kept[:len(kept)-1]
	}
	r.bySource[x.Source] = append(kept, x)
}

// list returns up to limit refusals of source ("" = every source), newest first.
func (r *Rejections) list(source string, limit int) []Rejection {
	r.mu.Lock()
	var out []Rejection
	for name, kept := range r.bySource {
		if source == "" || name == source {
			for i := len(kept) - 1; i >= 0; i-- { // newest first, also among equal times
				out = append(out, kept[i])
			}
		}
	}
	r.mu.Unlock()
	slices.SortStableFunc(out, func(a, b Rejection) int { return b.At.Compare(a.At) })
	return out[:min(limit, len(out))]
}

// keep drops the refusals of sources that are no longer configured.
func (r *Rejections) keep(sources Sources) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for name := range r.bySource {
		if sources[name] == nil {
			delete(r.bySource, name)
		}
	}
}

// rejectionReason is err's text without the source's secrets or the signatures the
// request carried. The verifiers' messages name the check that failed, not the values;
// this makes sure of it, since the reason is shown to every user token.
func rejectionReason(src *Source, h http.Header, err error) string {
	sc := redact.NewScrubber(src.Verifier.Secrets...)
	headers := []string{inbound.HeaderGitHubSignature, inbound.HeaderStripeSignature, signing.HeaderSignature}
	if src.Verifier.Header != "" {
		headers = append(headers, src.Verifier.Header)
	}
	for _, name := range headers {
		for _, v := range h.Values(name) {
			sc.Add(v)
			// The digests inside (sha256=<hex>, t=…,v1=<hex>, v1,<base64>); short parts
			// such as "sha256" are words a reason may use.
			for _, part := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '=' || r == ' ' }) {
				if len(part) >= 16 {
					sc.Add(part)
				}
			}
		}
	}
	return sc.String(err.Error())
}
