package api

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

// The filters a new user reached for exist (issue 10): ?event_type=,
// ?since= and ?until= on the event and delivery lists, each checked.
func TestLists_FilterByTypeAndWindow(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t1 := time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC)
		fake := clock.NewFake(t1)
		h := newHarness(t, st, func(c *Config) { c.Clock = fake })
		admin := h.as(h.admin)
		h.tenantWithKey(t, "acme")
		ep := h.endpoint(t, "acme", map[string]any{})["id"].(string)
		var events []string
		for _, typ := range []string{"user.created", "order.paid", "user.created"} {
			r := admin.post("/api/v1/tenants/acme/events", map[string]any{"type": typ, "data": map[string]any{}})
			want(t, r, http.StatusAccepted)
			events = append(events, r.str(t, "id"))
			fake.Advance(time.Hour)
		}
		t2, t3 := t1.Add(time.Hour), t1.Add(2*time.Hour)
		q := func(kv ...string) string {
			v := url.Values{}
			for i := 0; i < len(kv); i += 2 {
				v.Add(kv[i], kv[i+1])
			}
			return "?" + v.Encode()
		}
		at := func(t time.Time) string { return t.Format(time.RFC3339) }
		// Which events each list answers with, newest first.
		for _, tc := range []struct {
			path  string
			query string
			want  []int
		}{
			{"/deliveries", q("event_type", "order.paid"), []int{1}},
			{"/deliveries", q("event_type", "user.created"), []int{2, 0}},
			{"/deliveries", q("since", at(t2)), []int{2, 1}},
			{"/deliveries", q("until", at(t2)), []int{0}},
			{"/deliveries", q("since", at(t1), "until", at(t3)), []int{1, 0}},
			{"/deliveries", q("event_type", "user.created", "since", at(t2)), []int{2}},
			{"/deliveries", q("since", t2.In(time.FixedZone("", 2*3600)).Format(time.RFC3339)), []int{2, 1}},
			{"/deliveries", q("since", at(t2), "until", at(t2)), nil},
			{"/deliveries", q("status", "pending", "event_type", "order.paid", "endpoint", ep), []int{1}},
			{"/endpoints/" + ep + "/deliveries", q("event_type", "user.created", "until", at(t3)), []int{0}},
			{"/events/" + events[1] + "/deliveries", q("since", at(t3)), nil},
			{"/events/" + events[1] + "/deliveries", q("until", at(t3)), []int{1}},
			{"/deliveries", q("since", "0000-01-01T00:00:00Z", "until", "9999-12-31T23:59:59.999999Z"), []int{2, 1, 0}},
			{"/events", q("since", "0000-01-01T00:00:00Z", "until", "9999-12-31T23:59:59Z"), []int{2, 1, 0}},
			{"/events", q("since", at(t2)), []int{2, 1}},
			{"/events", q("until", at(t3)), []int{1, 0}},
			{"/events", q("event_type", "order.paid"), []int{1}},
			{"/events", q("type", "user.created", "event_type", "user.created", "since", at(t1.Add(time.Minute))), []int{2}},
		} {
			r := admin.get("/api/v1/tenants/acme" + tc.path + tc.query)
			want(t, r, http.StatusOK)
			var got []string
			for _, row := range r.list(t) {
				id, _ := row["event_id"].(string)
				if id == "" {
					id, _ = row["id"].(string)
				}
				got = append(got, id)
			}
			var wantIDs []string
			for _, i := range tc.want {
				wantIDs = append(wantIDs, events[i])
			}
			if strings.Join(got, ",") != strings.Join(wantIDs, ",") {
				t.Errorf("%s%s: events %v, want %v", tc.path, tc.query, got, wantIDs)
			}
		}

		for _, tc := range []struct{ path, loc string }{
			{"/deliveries" + q("since", "yesterday"), "query.since"},
			{"/deliveries" + q("until", "2030-01-02"), "query.until"},
			{"/deliveries" + q("since", at(t3), "until", at(t1)), "query.until"},
			{"/deliveries" + q("event_type", "user.*"), "query.event_type"},
			{"/endpoints/" + ep + "/deliveries" + q("since", at(t3), "until", at(t1)), "query.until"},
			{"/endpoints/" + ep + "/deliveries" + q("event_type", "a..b"), "query.event_type"},
			{"/events/" + events[0] + "/deliveries" + q("since", at(t3), "until", at(t2)), "query.until"},
			{"/events" + q("since", at(t3), "until", at(t2)), "query.until"},
			{"/events" + q("event_type", "a..b"), "query.event_type"},
			{"/events" + q("type", "a..b"), "query.type"},
			{"/events" + q("type", "user.created", "event_type", "order.paid"), "query.event_type"},
		} {
			wantProblem(t, admin.get("/api/v1/tenants/acme"+tc.path), http.StatusUnprocessableEntity, tc.loc)
		}
		r := admin.get("/api/v1/tenants/acme/deliveries" + q("since", "yesterday"))
		if !strings.Contains(string(r.Body), "RFC 3339") {
			t.Errorf("a bad time is not explained: %s", r.Body)
		}
	})
}
