package app

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"
)

// webhookEndpoint is an endpoint as GET /webhooks answers it.
type webhookEndpoint struct {
	ID                  string     `json:"id"`
	Name                string     `json:"name"`
	URL                 string     `json:"url"`
	Events              []string   `json:"events"`
	IsActive            bool       `json:"is_active"`
	CircuitState        string     `json:"circuit_state"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	LastFailureAt       *time.Time `json:"last_failure_at"`
	DisabledReason      string     `json:"disabled_reason"`
	Managed             bool       `json:"managed"`
	Misconfigured       string     `json:"misconfigured"`
}

// webhookDelivery is a delivery as GET /webhooks/{id}/deliveries answers it.
type webhookDelivery struct {
	ID                 string     `json:"id"`
	EventType          string     `json:"event_type"`
	Status             string     `json:"status"`
	AttemptCount       int        `json:"attempt_count"`
	MaxAttempts        int        `json:"max_attempts"`
	NextRetryAt        *time.Time `json:"next_retry_at"`
	ResponseStatusCode *int       `json:"response_status_code"`
	ErrorMessage       *string    `json:"error_message"`
	DurationMs         *int       `json:"duration_ms"`
	UpdatedAt          time.Time  `json:"updated_at"`
}

// pageMax is the largest page the webhook API gives.
const pageMax = 100

// WebhookList prints every webhook endpoint of a running server.
func WebhookList(ctx context.Context, c APIClient, w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tURL\tEVENTS\tSTATE\tCIRCUIT\tFAILURES")
	for page := 1; ; page++ {
		var list struct {
			Data       []webhookEndpoint
			Pagination struct {
				TotalPages int `json:"total_pages"`
			}
		}
		if err := c.get(ctx, fmt.Sprintf("/webhooks?limit=%d&page=%d", pageMax, page), &list); err != nil {
			return err
		}
		for _, e := range list.Data {
			state := "active"
			switch {
			case !e.IsActive && e.DisabledReason != "":
				state = "disabled: " + e.DisabledReason
			case !e.IsActive:
				state = "inactive"
			case e.Misconfigured != "":
				state = "misconfigured: " + e.Misconfigured
			}
			if e.Managed {
				state += " (declared)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\n", e.ID, e.Name, e.URL, strings.Join(e.Events, ","), state, e.CircuitState, e.ConsecutiveFailures)
		}
		if page >= list.Pagination.TotalPages {
			return tw.Flush()
		}
	}
}

// DeliveriesOptions select the deliveries `junction webhook deliveries` shows.
type DeliveriesOptions struct {
	Status string // pending, retrying, delivered or failed; "" for all
	Limit  int    // how many of the newest (at most 100)
}

// WebhookDeliveries prints an endpoint's newest deliveries, newest last, one line each
// as of its last attempt. Following, it then polls the newest page and prints each
// delivery again whenever it is new or has made another attempt (or changed status).
func WebhookDeliveries(ctx context.Context, c APIClient, endpointID string, o DeliveriesOptions, follow Follow, w io.Writer) error {
	path := func(limit int) string {
		q := url.Values{"limit": {fmt.Sprint(limit)}}
		if o.Status != "" {
			q.Set("status", o.Status)
		}
		return "/webhooks/" + url.PathEscape(endpointID) + "/deliveries?" + q.Encode()
	}
	seen := map[string]string{} // delivery id → what was printed of it last
	show := func(limit int) (fresh int, err error) {
		var list struct{ Data []webhookDelivery }
		if err := c.get(ctx, path(limit), &list); err != nil {
			return 0, err
		}
		now := make(map[string]string, len(list.Data))
		for i := len(list.Data) - 1; i >= 0; i-- {
			d := list.Data[i]
			state := fmt.Sprint(d.Status, d.AttemptCount)
			now[d.ID] = state
			if seen[d.ID] == state {
				continue
			}
			if _, ok := seen[d.ID]; !ok {
				fresh++
			}
			printDelivery(w, d)
		}
		seen = now // only the newest page can still change or grow
		return fresh, nil
	}
	if _, err := show(min(max(o.Limit, 1), pageMax)); err != nil || follow.Every == 0 {
		return err
	}
	return follow.poll(ctx, func() error {
		fresh, err := show(pageMax)
		if err == nil && fresh == pageMax && follow.Notes != nil {
			fmt.Fprintf(follow.Notes, "(%d new deliveries in one poll, the most shown at once: older ones may be skipped)\n", fresh)
		}
		return err
	})
}

// printDelivery prints a delivery as of its last attempt.
func printDelivery(w io.Writer, d webhookDelivery) {
	line := fmt.Sprintf("%s %s %s %-9s attempt %d/%d", d.UpdatedAt.UTC().Format(timeLayout), d.ID, d.EventType, d.Status, d.AttemptCount, d.MaxAttempts)
	if d.ResponseStatusCode != nil {
		line += fmt.Sprintf(" http=%d", *d.ResponseStatusCode)
	}
	if d.DurationMs != nil {
		line += fmt.Sprintf(" %dms", *d.DurationMs)
	}
	if d.ErrorMessage != nil {
		line += fmt.Sprintf(" error=%q", *d.ErrorMessage)
	}
	if d.NextRetryAt != nil && d.Status == "retrying" {
		line += " next=" + d.NextRetryAt.UTC().Format(timeLayout)
	}
	fmt.Fprintln(w, line)
}
