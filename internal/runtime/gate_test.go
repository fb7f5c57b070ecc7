package runtime

import "testing"

func TestGateWaitsForCallsInFlight(t *testing.T) {
	var g gate
	for range 2 {
		if !g.enter() {
			t.Fatal("an open gate refused a call")
		}
	}
	idle := g.close()
	if g.enter() {
		t.Fatal("a closed gate admitted a call")
	}
	g.leave()
	select {
	case <-idle:
		t.Fatal("idle with a call still in flight")
	default:
	}
	g.leave()
	<-idle
	if again := g.close(); again != idle {
		t.Fatal("closing twice gave another channel")
	}
	var empty gate
	<-empty.close() // nothing in flight: idle at once
}
