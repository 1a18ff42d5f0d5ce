package id_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/id"
)

func TestNewAt_PrefixedAndSortedByCreation(t *testing.T) {
	t.Parallel()
	// All in one millisecond: the ULIDs' randomness keeps them in order.
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	var ids []string
	for range 1000 {
		ids = append(ids, id.NewAt(id.Delivery, at))
	}
	for _, s := range ids {
		if !strings.HasPrefix(s, "dlv_") || len(s) != len("dlv_")+26 {
			t.Fatalf("id %q: want dlv_ and a 26-character ULID", s)
		}
	}
	if !slices.IsSorted(ids) {
		t.Error("ids made one after another do not sort in creation order")
	}
	if len(slices.Compact(slices.Clone(ids))) != len(ids) {
		t.Error("duplicate ids")
	}
	early := id.NewAt(id.Event, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	late := id.NewAt(id.Event, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	if early >= late {
		t.Errorf("NewAt(2020) = %s sorts after NewAt(2030) = %s", early, late)
	}
}

func TestNewTraceID_IsAValidW3CTraceID(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		tid := id.NewTraceID()
		// W3C Trace Context: 32 lowercase hex digits, not all zero.
		if len(tid) != 32 || strings.Trim(tid, "0123456789abcdef") != "" || tid == strings.Repeat("0", 32) {
			t.Fatalf("trace id %q: want 32 lowercase hex digits, not all zero", tid)
		}
		if seen[tid] {
			t.Fatalf("trace id %q made twice", tid)
		}
		seen[tid] = true
	}
}
