package storetest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// testListsStopAtByteBudget: every list stops a page early, with a next
// cursor, when its rows would pass the page's byte budget, and the pages
// still hold every row once, in order; a row larger than the budget is a
// page of its own.
func testListsStopAtByteBudget(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	const budget = 10_000
	// Sizes of the variable part of each row, in creation order: a page
	// of two or three, one over the budget alone, a run of small ones.
	sizes := []int{3000, 4000, 12_000, 2000, 5000, 100, 100, 100}
	blob := func(n int) json.RawMessage { return json.RawMessage(`{"x":"` + strings.Repeat("a", n) + `"}`) }

	mkTenant(t, st, "acme")
	for i, n := range sizes {
		at := t0.Add(time.Duration(i) * time.Second)
		do(st.TenantCreate(ctx, &store.Tenant{ID: fmt.Sprintf("t%d", i), Metadata: blob(n), CreatedAt: at})).must(t)
		do(st.EventTypePut(ctx, &store.EventType{Name: fmt.Sprintf("type.n%d", i), Schema: blob(n), CreatedAt: at, UpdatedAt: at})).must(t)
		do(st.EndpointCreate(ctx, &store.Endpoint{
			TenantID: "acme", URL: "https://example.com/hook", Events: []string{"*"}, Secret: "whsec_test", Enabled: i < 2,
			Metadata: blob(n), CreatedAt: at,
		})).must(t)
		do(st.EventCreate(ctx, &store.EventCreateParams{Event: newEvent("acme", fmt.Sprintf("e%d", i), "user.created", string(blob(n))), Now: at})).must(t)
	}

	checkBudgetPages(t, "tenants", budget, func(p *store.ListParams) ([]*store.Tenant, error) {
		return st.TenantList(ctx, p)
	})
	checkBudgetPages(t, "event types", budget, func(p *store.ListParams) ([]*store.EventType, error) {
		return st.EventTypeList(ctx, p)
	})
	checkBudgetPages(t, "endpoints", budget, func(p *store.ListParams) ([]*store.Endpoint, error) {
		return st.EndpointList(ctx, "acme", p)
	})
	checkBudgetPages(t, "events", budget, func(p *store.ListParams) ([]*store.Event, error) {
		return st.EventList(ctx, "acme", &store.EventListParams{ListParams: *p})
	})
	// Deliveries are small rows (two per event): a budget of three.
	one := (&store.Delivery{EventID: "e0", EventType: "user.created"}).Size()
	checkBudgetPages(t, "deliveries", 3*one+one/2, func(p *store.ListParams) ([]*store.Delivery, error) {
		return st.DeliveryList(ctx, "acme", &store.DeliveryListParams{ListParams: *p})
	})
}

// checkBudgetPages walks list by pages of budget bytes and checks them
// against one unbounded page of the same list.
func checkBudgetPages[T store.Sized](t *testing.T, what string, budget int, list func(p *store.ListParams) ([]T, error)) {
	t.Helper()
	whole := do(list(&store.ListParams{Limit: store.MaxLimit, MaxBytes: 1 << 30})).must(t)
	if len(whole) < 4 {
		t.Fatalf("%s: the fixture has %d rows, want at least 4", what, len(whole))
	}
	var pages [][]T
	cursor := ""
	for len(pages) <= len(whole) {
		p := &store.ListParams{Limit: store.MaxLimit, Cursor: cursor, MaxBytes: budget}
		rows := do(list(p)).must(t)
		page, next := store.Page(rows, p)
		if len(rows) > len(page)+1 {
			t.Fatalf("%s: page %d: the store read %d rows for a page of %d; want at most one more than the page", what, len(pages)+1, len(rows), len(page))
		}
		pages = append(pages, page)
		if next == "" {
			break
		}
		cursor = next
	}
	var got, want []string
	for _, r := range whole {
		want = append(want, r.Cursor())
	}
	for i, page := range pages {
		total := 0
		for _, r := range page {
			total += r.Size()
			got = append(got, r.Cursor())
		}
		if total > budget && len(page) > 1 {
			t.Errorf("%s: page %d holds %d rows of %d bytes in all, over the budget of %d", what, i+1, len(page), total, budget)
		}
		if i+1 < len(pages) && total+pages[i+1][0].Size() <= budget {
			t.Errorf("%s: page %d stopped at %d bytes, but the next row (%d bytes) fitted the budget of %d", what, i+1, total, pages[i+1][0].Size(), budget)
		}
	}
	if len(pages) < 3 {
		t.Errorf("%s: %d pages of %d bytes, want the budget to cut the list at least twice", what, len(pages), budget)
	}
	wantIDs(t, what+" by pages of the byte budget", got, want)
}

// testDeliveryAttemptsLatest: a delivery's latest attempts that fit the
// byte budget, oldest first; the latest always, however large.
func testDeliveryAttemptsLatest(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	mkEndpoint(t, st, "acme")
	id := mkEvent(t, st, "acme", "user.created", t0).Deliveries[0].ID
	bodies := []int{1000, 1000, 3000, 1000, 1000}
	now := t0
	for i, n := range bodies {
		claim(t, st, "w", now, 1, 10)
		next := now.Add(time.Second)
		status, nextAt := store.StatusRetrying, &next
		if i == len(bodies)-1 {
			status, nextAt = store.StatusFailed, nil
		}
		do(st.DeliveryRecordAttempt(ctx, &store.AttemptRecordParams{
			DeliveryID: id, Owner: "w", Status: status, NextAttemptAt: nextAt, Now: now,
			Attempt: &store.Attempt{StartedAt: now, ResponseCode: 500, ResponseBody: strings.Repeat("b", n)},
		})).must(t)
		now = next
	}
	numbers := func(atts []*store.Attempt) string {
		var b strings.Builder
		for _, a := range atts {
			fmt.Fprintf(&b, "%d ", a.Number)
		}
		return strings.TrimSpace(b.String())
	}
	all := do(st.DeliveryAttempts(ctx, id)).must(t)
	one, big := all[0].Size(), all[2].Size()
	for _, tc := range []struct {
		budget int
		want   string
	}{
		{1 << 20, "1 2 3 4 5"},
		{0, "1 2 3 4 5"}, // the default budget
		{2 * one, "4 5"},
		{2*one + 10, "4 5"}, // attempt 3 is larger than what is left
		{one / 2, "5"},      // the latest even when it is over the budget
		{4*one + big, "1 2 3 4 5"},
		{4*one + big - 1, "2 3 4 5"},
	} {
		got := numbers(do(st.DeliveryAttemptsLatest(ctx, id, tc.budget)).must(t))
		if got != tc.want {
			t.Errorf("DeliveryAttemptsLatest(budget %d) = attempts %q, want %q", tc.budget, got, tc.want)
		}
	}
	if atts := do(st.DeliveryAttemptsLatest(ctx, "dlv_missing", 0)).must(t); len(atts) != 0 {
		t.Errorf("latest attempts of a missing delivery: %v, want none", atts)
	}
}
