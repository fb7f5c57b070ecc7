package lifecycle

import (
	"context"
	"errors"
	"slices"
	"testing"
)

type recorder struct{ log []string }

func (r *recorder) part(name string, startErr error) Component {
	return Func{
		OnStart: func(context.Context) error { r.log = append(r.log, "start "+name); return startErr },
		OnStop:  func(context.Context) error { r.log = append(r.log, "stop "+name); return nil },
	}
}

func TestGroupStartsInOrderAndStopsInReverse(t *testing.T) {
	var r recorder
	var g Group
	g.Add("a", r.part("a", nil))
	g.Add("b", r.part("b", nil))
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := g.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := g.Stop(context.Background()); err != nil { // a second stop does nothing
		t.Fatal(err)
	}
	want := []string{"start a", "start b", "stop b", "stop a"}
	if !slices.Equal(r.log, want) {
		t.Fatalf("log %v, want %v", r.log, want)
	}
}

func TestGroupStartFailureStopsWhatStarted(t *testing.T) {
	var r recorder
	var g Group
	boom := errors.New("boom")
	g.Add("a", r.part("a", nil))
	g.Add("b", r.part("b", boom))
	g.Add("c", r.part("c", nil))
	err := g.Start(context.Background())
	if !errors.Is(err, boom) || err.Error() != "start b: boom" {
		t.Fatalf("Start = %v", err)
	}
	want := []string{"start a", "start b", "stop a"}
	if !slices.Equal(r.log, want) {
		t.Fatalf("log %v, want %v", r.log, want)
	}
}
