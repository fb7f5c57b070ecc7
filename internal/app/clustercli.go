package app

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/junctionhq/junction/internal/cluster"
)

// ClusterStatus prints GET /cluster as a table: one line per node, with its state, last
// heartbeat, leases and configuration version (marked when it differs from the
// others'), then which state each node keeps on its own.
func ClusterStatus(ctx context.Context, c APIClient, now time.Time, w io.Writer) error {
	var st cluster.Status
	if err := c.get(ctx, "/cluster", &st); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tADDRESS\tVERSION\tSTATE\tSTARTED\tLAST HEARTBEAT\tCONFIG\tLEASES")
	for _, n := range st.Nodes {
		id := n.ID
		if n.Self {
			id += " *"
		}
		config := n.ConfigVersion
		if config == "" {
			config = "-"
		}
		if n.ConfigDiffers {
			config += " (differs)"
		}
		leases := strings.Join(n.Leases, ",")
		if leases == "" {
			leases = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s ago\t%s\t%s\n", id, n.Address, n.Version, n.State,
			n.StartedAt.Local().Format(time.DateTime), ago(now, n.LastHeartbeat), config, leases)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	kinds := make([]string, 0, len(st.SharedState))
	for k := range st.SharedState {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	var perNode, shared []string
	for _, k := range kinds {
		if st.SharedState[k] == "per-node" {
			perNode = append(perNode, k)
		} else {
			shared = append(shared, k+" ("+st.SharedState[k]+")")
		}
	}
	fmt.Fprintf(w, "\n* answered this request. Leases last %gs after their holder's last renewal.\n", st.LeaseTTL)
	if len(perNode) > 0 {
		fmt.Fprintf(w, "Per node: %s\n", strings.Join(perNode, ", "))
	}
	if len(shared) > 0 {
		fmt.Fprintf(w, "Shared: %s\n", strings.Join(shared, ", "))
	}
	return nil
}

// ago is how long before now t was, to the second.
func ago(now, t time.Time) time.Duration {
	return max(now.Sub(t), 0).Round(time.Second)
}
