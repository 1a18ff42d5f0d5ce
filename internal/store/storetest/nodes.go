package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// Nodes register and refresh themselves, the live ones are listed, a row
// not seen for long is forgotten when another node puts its own, and a
// stopping node deletes its row.
func testNodes(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	put := func(id, settings string, started, seen time.Time) {
		t.Helper()
		n := &store.Node{ID: id, Name: "host-" + id, Settings: settings, SettingsHash: "h-" + settings, StartedAt: started, SeenAt: seen}
		if err := st.NodePut(ctx, n, seen.Add(-24*time.Hour)); err != nil {
			t.Fatalf("NodePut %s: %v", id, err)
		}
	}
	list := func(since time.Time) []*store.Node {
		t.Helper()
		ns, err := st.NodeList(ctx, since)
		if err != nil {
			t.Fatal(err)
		}
		return ns
	}
	ids := func(ns []*store.Node) (out []string) {
		for _, n := range ns {
			out = append(out, n.ID)
		}
		return out
	}

	put("crashed", "a", t0.Add(-72*time.Hour), t0.Add(-48*time.Hour))
	put("b", "b", t0.Add(time.Minute), t0.Add(time.Minute))
	if got := ids(list(t0.Add(-100 * time.Hour))); len(got) != 1 || got[0] != "b" {
		t.Fatalf("nodes after b's put: %v, want the crashed one, not seen for two days, forgotten", got)
	}
	put("a", "a", t0, t0)
	ns := list(t0)
	if got := ids(ns); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Fatalf("NodeList = %v, want a then b, the earliest started first", got)
	}
	a := ns[0]
	if a.Name != "host-a" || a.Settings != "a" || a.SettingsHash != "h-a" {
		t.Errorf("node a = %+v", a)
	}
	sameTime(t, "StartedAt", a.StartedAt, us(t0))

	// A heartbeat refreshes the row.
	put("a", "a", t0, t0.Add(2*time.Minute))
	if got := ids(list(t0.Add(2 * time.Minute))); len(got) != 1 || got[0] != "a" {
		t.Errorf("nodes seen since a's heartbeat: %v, want a only", got)
	}

	if err := st.NodeDelete(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if err := st.NodeDelete(ctx, "b"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleting b again: %v, want ErrNotFound", err)
	}
	if got := ids(list(t0)); len(got) != 1 || got[0] != "a" {
		t.Errorf("nodes after deleting b: %v", got)
	}
}
