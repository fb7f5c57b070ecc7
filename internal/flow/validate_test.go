package flow_test

import (
	"strings"
	"testing"
)

// TestHugeExponentIsDeadLettered: a number the schema library cannot read (it
// panicked comparing 1E1000001 with a minimum, which ended the process) is a problem of
// that message: it is dead-lettered and the flow goes on.
func TestHugeExponentIsDeadLettered(t *testing.T) {
	h := newHarness(t, orderFlow)
	h.put(`{"orderId":"o1","orderTotal":1E1000001}`, `{"orderId":"ok","orderTotal":5}`)
	h.settled(2)
	h.stop()
	if got := bodies(h.sinks["b"].Received()); len(got) != 1 || !strings.Contains(got[0], `"ok"`) {
		t.Fatalf("small got %v", got)
	}
	dls := h.dlq.all()
	if len(dls) != 1 || dls[0].Step != "check" || dls[0].Error != "/total: number 1E1000001 is out of the range that can be checked" {
		t.Fatalf("dead letters %+v", dls)
	}
}
