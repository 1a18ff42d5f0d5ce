package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

// A list shows each event's data, but not a large one's unless asked:
// past 64 KiB it is null with data_truncated set and its size, so that a
// page of large events stays small (issue 10: a 1.9 MB page of two
// events). ?include=data lists every event's data whole; GET the event
// always has it.
func TestEvents_ListLeavesOutLargeDataUnlessAsked(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		admin := h.as(h.admin)
		h.tenantWithKey(t, "acme")
		big := `{"blob":"` + strings.Repeat("x", listDataMax) + `"}` // just over the cap
		want(t, admin.post("/api/v1/tenants/acme/events", `{"type": "a.big", "id": "big", "data": `+big+`}`), http.StatusAccepted)
		exact := `{"blob":"` + strings.Repeat("y", listDataMax-len(`{"blob":""}`)) + `"}` // at the cap
		want(t, admin.post("/api/v1/tenants/acme/events", `{"type": "a.exact", "id": "exact", "data": `+exact+`}`), http.StatusAccepted)
		want(t, admin.post("/api/v1/tenants/acme/events", `{"type": "a.small", "id": "small", "data": {"n": 12345678901234567890}}`), http.StatusAccepted)

		type listed struct {
			ID            string          `json:"id"`
			Data          json.RawMessage `json:"data"`
			DataTruncated *bool           `json:"data_truncated"`
			DataBytes     *int            `json:"data_bytes"`
		}
		list := func(query string) (map[string]listed, int) {
			r := admin.get("/api/v1/tenants/acme/events" + query)
			want(t, r, http.StatusOK)
			var page struct{ Data []listed }
			if err := json.Unmarshal(r.Body, &page); err != nil {
				t.Fatal(err)
			}
			out := map[string]listed{}
			for _, e := range page.Data {
				if e.DataTruncated == nil || e.DataBytes == nil {
					t.Fatalf("%s is listed without data_truncated or data_bytes: %s", e.ID, r.Body)
				}
				out[e.ID] = e
			}
			return out, len(r.Body)
		}

		got, size := list("")
		if b := got["big"]; string(b.Data) != "null" || !*b.DataTruncated || *b.DataBytes != len(big) {
			t.Errorf("the big event is listed with data %.20s, truncated %v, %d bytes; want null, true, %d", b.Data, *b.DataTruncated, *b.DataBytes, len(big))
		}
		if e := got["exact"]; string(e.Data) != exact || *e.DataTruncated || *e.DataBytes != listDataMax {
			t.Errorf("an event of exactly 64 KiB is listed with %d bytes of data, truncated %v", len(e.Data), *e.DataTruncated)
		}
		if s := got["small"]; string(s.Data) != `{"n":12345678901234567890}` || *s.DataTruncated {
			t.Errorf("the small event is listed with %s, truncated %v", s.Data, *s.DataTruncated)
		}
		if size > listDataMax+4096 {
			t.Errorf("the page is %d bytes, want about one capped event's", size)
		}

		got, _ = list("?include=data")
		if b := got["big"]; string(b.Data) != big || *b.DataTruncated {
			t.Errorf("?include=data: the big event's data is %d bytes, truncated %v; want it whole", len(b.Data), *b.DataTruncated)
		}
		if r := admin.get("/api/v1/tenants/acme/events/big"); r.str(t, "id") != "big" || !strings.Contains(string(r.Body), strings.Repeat("x", listDataMax)) {
			t.Errorf("GET the big event does not give its data whole")
		}
		wantProblem(t, admin.get("/api/v1/tenants/acme/events?include=everything"), http.StatusUnprocessableEntity, "query.include")
	})
}
