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
