package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// A claim locks the rows it picked by key, whatever the table's statistics
// say. Taken just after a run whose deliveries were all delivered, they
// put the unfinished ones at none, and the claim's plan then drove the
// lock from deliveries_due_endpoint, every due row of the backlog once,
// and probed the picked candidates for each: 941 due rows for 149 picked,
// 30 ms a claim instead of 3, a fan-out 10 run at half its rate
// (docs/design.md).
func TestDeliveryClaimDue_PlanLocksPickedByKey(t *testing.T) {
	t.Parallel()
	st := testStore(t)
	ctx := context.Background()
	mkTenant(t, st)
	now := time.Now()
	// A first run, every delivery of it delivered.
	mkEndpoint(t, st, "first.run")
	postEvents(t, st, now, "first.run", 20)
	cs, err := st.DeliveryClaimDue(ctx, &store.DeliveryClaimParams{Owner: "w", Now: now.Add(time.Second), Lease: time.Minute, Limit: 2000, PerEndpoint: 2000})
	if err != nil || len(cs) != 2000 {
		t.Fatalf("claimed %d deliveries, %v; want 2000", len(cs), err)
	}
	ps := make([]*store.AttemptRecordParams, len(cs))
	for i, c := range cs {
		ps[i] = &store.AttemptRecordParams{DeliveryID: c.Delivery.ID, Owner: "w", Status: store.StatusDelivered,
			Now: now.Add(2 * time.Second), Attempt: &store.Attempt{StartedAt: now, ResponseCode: 204}}
	}
	if _, err := st.DeliveryRecordAttempts(ctx, ps); err != nil {
		t.Fatal(err)
	}
	// Statistics of that moment: no delivery unfinished.
	if _, err := st.pool.Exec(ctx, "ANALYZE deliveries"); err != nil {
		t.Fatal(err)
	}
	// Then a backlog at ten endpoints.
	for range 10 {
		mkEndpoint(t, st, "second.run")
	}
	postEvents(t, st, now, "second.run", 2)

	at := now.Add(3 * time.Second)
	p := &store.DeliveryClaimParams{Owner: "w", Now: at, Lease: time.Minute, Limit: 150, PerEndpoint: 16}
	plan, err := explain(ctx, st, claimSQL, st.claimArgs(p, at, at.Add(p.Lease)))
	if err != nil {
		t.Fatalf("explain the claim: %v", err)
	}
	// The picked CTE: from its LockRows to the next CTE.
	var picked []string
	in := false
	for _, line := range plan {
		switch {
		case strings.HasPrefix(strings.TrimSpace(line), "CTE picked"):
			in = true
		case in && strings.HasPrefix(strings.TrimSpace(line), "CTE "):
			in = false
		case in:
			picked = append(picked, line)
		}
	}
	// Its join's outer side is the candidates, its inner the rows by key.
	outer := ""
	for i, line := range picked {
		if strings.Contains(line, "Nested Loop") {
			for _, next := range picked[i+1:] {
				if strings.Contains(next, "->") {
					outer = next
					break
				}
			}
			break
		}
	}
	if !strings.Contains(outer, "on candidates") || !strings.Contains(strings.Join(picked, "\n"), "Index Scan using deliveries_pkey on deliveries") {
		t.Errorf("the claim does not lock the picked rows by key:\n%s", strings.Join(plan, "\n"))
	}
}

// mkTenant creates the plan tests' tenant, acme.
func mkTenant(t *testing.T, st *Store) {
	t.Helper()
	if _, err := st.TenantCreate(context.Background(), &store.Tenant{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
}

// mkEndpoint creates an enabled endpoint of acme for events of one type.
func mkEndpoint(t *testing.T, st *Store, events string) {
	t.Helper()
	if _, err := st.EndpointCreate(context.Background(), &store.Endpoint{TenantID: "acme", URL: "https://example.com/hook", Events: []string{events}, Enabled: true}); err != nil {
		t.Fatal(err)
	}
}

// postEvents stores batches of 100 events of acme of type typ.
func postEvents(t *testing.T, st *Store, now time.Time, typ string, batches int) {
	t.Helper()
	for b := range batches {
		ps := make([]*store.EventCreateParams, 100)
		for i := range ps {
			ps[i] = &store.EventCreateParams{Now: now, Event: &store.Event{
				TenantID: "acme", ID: fmt.Sprintf("evt_%s_%d_%d", typ, b, i), Type: typ,
				Data: json.RawMessage(`{"n":1}`), Hash: fmt.Sprintf("h%s%d_%d", typ, b, i), Source: store.SourceAPI,
			}}
		}
		if _, _, err := st.EventCreateMany(context.Background(), ps, nil); err != nil {
			t.Fatal(err)
		}
	}
}
