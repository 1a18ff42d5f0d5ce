package service_test

import (
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/service"
)

func TestBase_InitFillsTheDefaultsOnly(t *testing.T) {
	t.Parallel()
	b := service.Base{}.Init()
	if b.Clock == nil || b.Logger == nil {
		t.Fatalf("Init() = %+v, want a clock and a logger", b)
	}
	b.Logger.Info("goes nowhere") // the default logger discards, never panics
	fake := clock.NewFake(time.Unix(0, 0))
	if got := (service.Base{Clock: fake}).Init().Clock; got != fake {
		t.Fatalf("Init() replaced the given clock with %v", got)
	}
}

func TestNewOwner_IsUniquePerCall(t *testing.T) {
	t.Parallel()
	a, b := service.NewOwner(), service.NewOwner()
	if a == b || a == "" {
		t.Fatalf("NewOwner() gave %q and %q, want two different names", a, b)
	}
}

// Recent keeps a value for its TTL on its clock, forgets at once, and
// starts again empty past its bound and on Clear.
func TestRecent_KeepsForTTLForgetsAndBounds(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	r := service.NewRecent[int](clk, 2*time.Second, 2)
	r.Put("a", 1)
	if v, ok := r.Get("a"); !ok || v != 1 {
		t.Fatalf("Get(a) = %v, %v; want 1", v, ok)
	}
	clk.Advance(2 * time.Second)
	if _, ok := r.Get("a"); ok {
		t.Error("Get(a) after its TTL: kept, want gone")
	}
	r.Put("a", 1)
	r.Forget("a")
	if _, ok := r.Get("a"); ok {
		t.Error("Get(a) after Forget: kept, want gone")
	}
	r.Put("a", 1)
	r.Put("b", 2)
	r.Put("c", 3) // past the bound of 2: starts again
	if _, ok := r.Get("a"); ok {
		t.Error("Get(a) past the bound: kept, want gone")
	}
	if v, ok := r.Get("c"); !ok || v != 3 {
		t.Errorf("Get(c) = %v, %v; want 3", v, ok)
	}
	r.Clear()
	if _, ok := r.Get("c"); ok {
		t.Error("Get(c) after Clear: kept, want gone")
	}
}
