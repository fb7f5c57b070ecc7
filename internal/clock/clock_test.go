package clock

import (
	"context"
	"testing"
	"time"
)

func TestFakeSleepWakesOnAdvance(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := NewFake(start)
	done := make(chan error, 1)
	go func() { done <- f.Sleep(context.Background(), time.Second) }()
	for f.Sleepers() != 1 {
		time.Sleep(time.Millisecond)
	}
	f.Advance(999 * time.Millisecond)
	select {
	case <-done:
		t.Fatal("woke before its deadline")
	case <-time.After(20 * time.Millisecond):
	}
	f.Advance(time.Millisecond)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := f.Now().Sub(start); got != time.Second {
		t.Errorf("now advanced by %v", got)
	}
}

func TestFakeSleepCancelled(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Sleep(ctx, time.Hour) }()
	for f.Sleepers() != 1 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("err = %v", err)
	}
	if f.Sleepers() != 0 {
		t.Error("cancelled sleeper still registered")
	}
}

func TestAutoFake(t *testing.T) {
	f := NewAutoFake(time.Unix(0, 0))
	_ = f.Sleep(context.Background(), 100*time.Millisecond)
	_ = f.Sleep(context.Background(), 200*time.Millisecond)
	if got := f.Now().Sub(time.Unix(0, 0)); got != 300*time.Millisecond {
		t.Errorf("now = %v", got)
	}
	if s := f.Slept(); len(s) != 2 || s[1] != 200*time.Millisecond {
		t.Errorf("slept = %v", s)
	}
}

func TestRealSleep(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (Real{}).Sleep(ctx, time.Hour); err != context.Canceled {
		t.Errorf("cancelled real sleep = %v", err)
	}
	if err := (Real{}).Sleep(context.Background(), time.Millisecond); err != nil {
		t.Error(err)
	}
}
