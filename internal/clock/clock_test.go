package clock_test

import (
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/clock"
)

func fired(tm clock.Timer) bool {
	select {
	case <-tm.C():
		return true
	default:
		return false
	}
}

func TestFake_TimersFireInOrderWhenPassed(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f := clock.NewFake(start)
	a, b := f.NewTimer(2*time.Second), f.NewTimer(5*time.Second)
	if f.Timers() != 2 {
		t.Fatalf("Timers() = %d, want 2", f.Timers())
	}
	f.Advance(time.Second)
	if fired(a) || fired(b) {
		t.Fatal("a timer fired before its deadline")
	}
	f.Advance(time.Second)
	if !fired(a) {
		t.Fatal("timer at +2s did not fire at +2s")
	}
	if fired(b) {
		t.Fatal("timer at +5s fired at +2s")
	}
	if got := f.Now(); !got.Equal(start.Add(2 * time.Second)) {
		t.Fatalf("Now() = %v, want %v", got, start.Add(2*time.Second))
	}
	f.Set(start) // never backwards
	if got := f.Now(); !got.Equal(start.Add(2 * time.Second)) {
		t.Fatalf("Set to the past moved the clock to %v", got)
	}
	if !b.Stop() {
		t.Fatal("Stop of a pending timer reported false")
	}
	f.Advance(time.Hour)
	if fired(b) {
		t.Fatal("a stopped timer fired")
	}
	if b.Reset(time.Minute) {
		t.Fatal("Reset of a stopped timer reported it pending")
	}
	f.Advance(time.Minute)
	if !fired(b) {
		t.Fatal("a reset timer did not fire")
	}
}

func TestFake_ZeroDurationFiresAtOnce(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(time.Unix(0, 0))
	if !fired(f.NewTimer(0)) {
		t.Fatal("NewTimer(0) did not fire at once")
	}
}

func TestReal_TellsTheTime(t *testing.T) {
	t.Parallel()
	before := time.Now()
	got := clock.Or(nil).Now()
	if got.Before(before) || got.Sub(before) > time.Minute {
		t.Fatalf("Real().Now() = %v, want about %v", got, before)
	}
	tm := clock.Real().NewTimer(time.Millisecond)
	select {
	case <-tm.C():
	case <-time.After(10 * time.Second):
		t.Fatal("real timer did not fire")
	}
}
