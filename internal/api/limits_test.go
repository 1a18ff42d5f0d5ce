package api

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/id"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

// pageOfJSON is a list answer with its rows kept as they came.
type pageOfJSON struct {
	Data       []json.RawMessage `json:"data"`
	NextCursor *string           `json:"next_cursor"`
}

// walkList reads every page of a list at limit 250 and returns each
// page's rows.
func walkList(t *testing.T, c *client, path string) [][]json.RawMessage {
	t.Helper()
	var pages [][]json.RawMessage
	cursor := ""
	for {
		q := "?limit=250"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		r := c.get(path + q)
		want(t, r, http.StatusOK)
		var p pageOfJSON
		if err := json.Unmarshal(r.Body, &p); err != nil {
			t.Fatalf("GET %s: %v", path+q, err)
		}
		pages = append(pages, p.Data)
		if p.NextCursor == nil {
			return pages
		}
		if len(pages) > 100 {
			t.Fatalf("GET %s never ends", path)
		}
		cursor = *p.NextCursor
	}
}

// idsOf is the "id" (or "name") of every row of every page, in order.
func idsOf(t *testing.T, pages [][]json.RawMessage) []string {
	t.Helper()
	var out []string
	for _, p := range pages {
		for _, row := range p {
			var v struct{ ID, Name string }
			if err := json.Unmarshal(row, &v); err != nil {
				t.Fatalf("row %s: %v", row, err)
			}
			out = append(out, cmp.Or(v.ID, v.Name))
		}
	}
	return out
}

// checkPages fails unless every page of rows is within budget bytes (or
// is one row alone) and holds at least min rows but the last.
func checkPages(t *testing.T, what string, pages [][]json.RawMessage, budget int) {
	t.Helper()
	if len(pages) < 2 {
		t.Fatalf("%s: one page of %d rows, want the byte budget of %d to cut it", what, len(pages[0]), budget)
	}
	for i, p := range pages {
		n := 0
		for _, row := range p {
			n += len(row)
		}
		if n > budget && len(p) > 1 {
			t.Errorf("%s: page %d is %d rows, %d bytes, over the budget of %d", what, i+1, len(p), n, budget)
		}
	}
}

// A list page stops early, with a next cursor, when its rows would pass
// the page's byte budget; walking the pages still gives every row once,
// newest first. Before, 120 events of 1 MiB at ?limit=250 were one answer
// of 125 MB.
func TestLists_PageStopsAtTheByteBudget(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		const budget = 64 << 10
		h := newHarness(t, st, func(c *Config) { c.MaxPageBytes = budget })
		admin := h.as(h.admin)
		h.tenantWithKey(t, "acme")
		pad := func(n int) string { return strings.Repeat("p", n) }
		var events, tenants, endpoints, types []string
		for i := range 7 {
			r := admin.post("/api/v1/tenants/acme/events", `{"type": "big", "data": {"pad": "`+pad(20<<10)+`"}}`)
			want(t, r, http.StatusAccepted)
			events = append([]string{r.str(t, "id")}, events...)

			r = admin.post("/api/v1/tenants", fmt.Sprintf(`{"id": "t%d", "metadata": {"pad": "%s"}}`, i, pad(15<<10)))
			want(t, r, http.StatusCreated)
			tenants = append([]string{r.str(t, "id")}, tenants...)

			ep := h.endpoint(t, "acme", map[string]any{"metadata": map[string]any{"pad": pad(15 << 10)}})
			endpoints = append([]string{ep["id"].(string)}, endpoints...)

			name := fmt.Sprintf("big.t%d", i)
			want(t, admin.put("/api/v1/event-types/"+name, `{"schema": {"description": "`+pad(20<<10)+`"}}`), http.StatusCreated)
			types = append([]string{name}, types...)
		}
		tenants = append(tenants, "acme")

		for _, tc := range []struct {
			path string
			want []string
		}{
			{"/api/v1/tenants/acme/events", events},
			{"/api/v1/tenants", tenants},
			{"/api/v1/tenants/acme/endpoints", endpoints},
			{"/api/v1/event-types", types},
		} {
			pages := walkList(t, admin, tc.path)
			checkPages(t, tc.path, pages, budget)
			if got := idsOf(t, pages); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("%s by pages: %v, want %v", tc.path, got, tc.want)
			}
		}

		// Deliveries are small: a small budget cuts them too.
		small := newHarness(t, st, func(c *Config) { c.MaxPageBytes = 1500 })
		pages := walkList(t, small.as(small.admin), "/api/v1/tenants/acme/deliveries")
		checkPages(t, "deliveries", pages, 1500)
		if n := len(idsOf(t, pages)); n != 21 {
			t.Errorf("%d deliveries by pages, want 21 (event i went to the i endpoints made before it)", n)
		}
	})
}

// The default budget is 4 MiB: six events of 900 KiB are two pages.
func TestLists_DefaultPageBudget(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		admin := h.as(h.admin)
		h.tenantWithKey(t, "acme")
		for range 6 {
			want(t, admin.post("/api/v1/tenants/acme/events", `{"type": "big", "data": {"pad": "`+strings.Repeat("p", 900<<10)+`"}}`), http.StatusAccepted)
		}
		pages := walkList(t, admin, "/api/v1/tenants/acme/events")
		if len(pages) != 2 || len(pages[0]) != 4 || len(pages[1]) != 2 {
			t.Fatalf("six events of 900 KiB came in %d pages, want 4 then 2", len(pages))
		}
		checkPages(t, "events", pages, store.DefaultPageBytes)
	})
}

// A delivery's answer shows its latest attempts within the byte budget;
// attempt_count still counts them all.
func TestDeliveries_AttemptsBoundedInBytes(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st, func(c *Config) { c.MaxPageBytes = 10_000 })
		admin := h.as(h.admin)
		h.tenantWithKey(t, "acme")
		h.endpoint(t, "acme", map[string]any{})
		want(t, admin.post("/api/v1/tenants/acme/events", `{"type": "a", "data": {}}`), http.StatusAccepted)
		ctx := t.Context()
		var dlv string
		for i := range 6 {
			now := time.Now()
			claimed, err := st.DeliveryClaimDue(ctx, &store.DeliveryClaimParams{Owner: "test", Now: now, Lease: time.Minute, Limit: 1, PerEndpoint: 1})
			if err != nil || len(claimed) != 1 {
				t.Fatalf("claim %d: %d, %v", i, len(claimed), err)
			}
			dlv = claimed[0].Delivery.ID
			if _, err := st.DeliveryRecordAttempt(ctx, &store.AttemptRecordParams{
				DeliveryID: dlv, Owner: "test", Status: store.StatusFailed, Now: now,
				Attempt: &store.Attempt{ID: id.NewAt(id.Attempt, now), StartedAt: now, ResponseCode: 500, ResponseBody: strings.Repeat("b", 4000)},
			}); err != nil {
				t.Fatalf("record attempt %d: %v", i, err)
			}
			if i < 5 {
				want(t, admin.post("/api/v1/tenants/acme/deliveries/"+dlv+"/retry", nil), http.StatusAccepted)
			}
		}
		r := admin.get("/api/v1/tenants/acme/deliveries/" + dlv)
		want(t, r, http.StatusOK)
		var d struct {
			AttemptCount int `json:"attempt_count"`
			Attempts     []struct{ Number int }
		}
		if err := json.Unmarshal(r.Body, &d); err != nil {
			t.Fatal(err)
		}
		if d.AttemptCount != 6 || len(d.Attempts) != 2 || d.Attempts[0].Number != 5 || d.Attempts[1].Number != 6 {
			t.Fatalf("delivery with 6 attempts of 4 KB under a budget of 10,000: count %d, attempts %+v; want 6, and attempts 5 and 6",
				d.AttemptCount, d.Attempts)
		}
	})
}

// Tenant and endpoint metadata are at most 16 KiB of compact JSON; past it
// is 422 at body.metadata, on create and on change.
func TestMetadata_SizeLimit(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		admin := h.as(h.admin)
		h.tenantWithKey(t, "acme")
		ep := h.endpoint(t, "acme", map[string]any{})["id"].(string)
		// {"p":"..."} of exactly n bytes compact; the spaces go.
		meta := func(n int) string { return `{"p": "` + strings.Repeat("m", n-len(`{"p":""}`)) + `"}` }
		atLimit, over := meta(herald.MaxMetadataBytes), meta(herald.MaxMetadataBytes+1)

		want(t, admin.post("/api/v1/tenants", `{"id": "ok", "metadata": `+atLimit+`}`), http.StatusCreated)
		want(t, admin.post("/api/v1/tenants/acme/endpoints", `{"url": "https://example.com/", "metadata": `+atLimit+`}`), http.StatusCreated)
		for _, tc := range []struct{ method, path, body string }{
			{"POST", "/api/v1/tenants", `{"id": "big", "metadata": ` + over + `}`},
			{"PATCH", "/api/v1/tenants/acme", `{"metadata": ` + over + `}`},
			{"POST", "/api/v1/tenants/acme/endpoints", `{"url": "https://example.com/", "metadata": ` + over + `}`},
			{"PATCH", "/api/v1/tenants/acme/endpoints/" + ep, `{"metadata": ` + over + `}`},
		} {
			wantProblem(t, h.do(req{method: tc.method, path: tc.path, key: h.admin, body: tc.body}), http.StatusUnprocessableEntity, "body.metadata")
		}
		wantProblem(t, admin.get("/api/v1/tenants/big"), http.StatusNotFound, "")
		if got := admin.get("/api/v1/tenants/acme/endpoints/" + ep).obj(t)["metadata"]; fmt.Sprint(got) != "map[]" {
			t.Errorf("endpoint metadata after a refused PATCH: %v, want none", got)
		}
	})
}

// Tenant ids "." and ".." cannot be path segments: they are refused.
func TestTenants_DotIDsRefused(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		admin := h.as(h.admin)
		for _, id := range []string{".", ".."} {
			wantProblem(t, admin.post("/api/v1/tenants", map[string]any{"id": id}), http.StatusUnprocessableEntity, "body.id")
		}
		want(t, admin.post("/api/v1/tenants", map[string]any{"id": "..."}), http.StatusCreated)
		want(t, admin.get("/api/v1/tenants/..."), http.StatusOK)
		if l := admin.get("/api/v1/tenants").list(t); len(l) != 1 {
			t.Fatalf("tenants %v, want only ...", l)
		}
	})
}

// A schema that refers to itself in place is refused at PUT, instead of
// being stored and then refusing every event of its type.
func TestEventTypes_SelfReferencingSchemaRefused(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		admin := h.as(h.admin)
		h.tenantWithKey(t, "acme")
		for _, schema := range []string{`{"$ref": "#"}`, `{"$defs": {"a": {"allOf": [{"$ref": "#"}]}}, "anyOf": [{"$ref": "#/$defs/a"}]}`} {
			wantProblem(t, admin.put("/api/v1/event-types/loop", `{"schema": `+schema+`}`), http.StatusUnprocessableEntity, "body.schema")
		}
		wantProblem(t, admin.get("/api/v1/event-types/loop"), http.StatusNotFound, "")
		want(t, admin.post("/api/v1/tenants/acme/events", `{"type": "loop", "data": {}}`), http.StatusAccepted)

		// Recursion into the value is fine.
		want(t, admin.put("/api/v1/event-types/tree", `{"schema": {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#"}}}}}`), http.StatusCreated)
		want(t, admin.post("/api/v1/tenants/acme/events", `{"type": "tree", "data": {"kids": [{"kids": []}]}}`), http.StatusAccepted)
		wantProblem(t, admin.post("/api/v1/tenants/acme/events", `{"type": "tree", "data": {"kids": [{"kids": 1}]}}`), http.StatusUnprocessableEntity, "body.data.kids[0].kids")
	})
}
