package sqlite

import (
	"slices"
	"testing"
)

// pick goes round the tenants by turn, oldest due first within a turn,
// keeps each tenant within its room and the claim within its limit.
func TestPick_TakesTurnsWithinRoomAndLimit(t *testing.T) {
	t.Parallel()
	// Tenant a has five due (two endpoints), b two, c one with no room.
	cands := []candidate{
		{id: "a3", due: 30, tenant: "a"}, {id: "a1", due: 10, tenant: "a"},
		{id: "b2", due: 5, tenant: "b"}, {id: "a2", due: 10, tenant: "a"},
		{id: "b1", due: 5, tenant: "b"}, {id: "a4", due: 40, tenant: "a"},
		{id: "a5", due: 50, tenant: "a"}, {id: "c1", due: 1, tenant: "c"},
	}
	room := map[string]int{"a": 3, "b": 5, "c": 0}
	tests := []struct {
		limit int
		want  []string
	}{
		// Turn 1: b1 (due 5) before a1 (due 10); turn 2: b2, a2; turn 3:
		// a3 only; a4 and a5 are past a's room, c1 past c's.
		{limit: 10, want: []string{"b1", "a1", "b2", "a2", "a3"}},
		{limit: 3, want: []string{"b1", "a1", "b2"}},
		{limit: 0, want: []string{}},
	}
	for _, tc := range tests {
		got := pick(slices.Clone(cands), room, tc.limit)
		if !slices.Equal(got, tc.want) {
			t.Errorf("pick limit %d = %v, want %v", tc.limit, got, tc.want)
		}
	}
}
