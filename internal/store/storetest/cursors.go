package storetest

import (
	"math"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// HostileCursors are cursors in the form the server makes whose time no
// list row can have: before PostgreSQL's first timestamp (the microseconds
// of issue 12, which PostgreSQL refused with SQLSTATE 22008), the ends of
// an int64, and past year 9999. Every list must refuse each as the client's
// error at query.cursor, on every database.
var HostileCursors = map[string]string{
	"before PostgreSQL's first timestamp": store.EncodeCursor(time.UnixMicro(-210866803200000001), "x"),
	"the first int64 microsecond":         store.EncodeCursor(time.UnixMicro(math.MinInt64), "x"),
	"the last int64 microsecond":          store.EncodeCursor(time.UnixMicro(math.MaxInt64), "x"),
	"year 10000":                          store.EncodeCursor(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), "x"),
	"year 0":                              store.EncodeCursor(time.Date(0, 12, 31, 23, 59, 59, 0, time.UTC), "x"),
}

// lists are every list method of the store, with one tenant's rows.
func lists(st store.Store, tenantID string) map[string]func(t *testing.T, p store.ListParams) (int, error) {
	n := func(k int, err error) (int, error) { return k, err }
	return map[string]func(t *testing.T, p store.ListParams) (int, error){
		"TenantList": func(t *testing.T, p store.ListParams) (int, error) {
			rows, err := st.TenantList(ctxT(t), &p)
			return n(len(rows), err)
		},
		"EventTypeList": func(t *testing.T, p store.ListParams) (int, error) {
			rows, err := st.EventTypeList(ctxT(t), &p)
			return n(len(rows), err)
		},
		"EndpointList": func(t *testing.T, p store.ListParams) (int, error) {
			rows, err := st.EndpointList(ctxT(t), tenantID, &p)
			return n(len(rows), err)
		},
		"EventList": func(t *testing.T, p store.ListParams) (int, error) {
			rows, err := st.EventList(ctxT(t), tenantID, &store.EventListParams{ListParams: p})
			return n(len(rows), err)
		},
		"KeyList": func(t *testing.T, p store.ListParams) (int, error) {
			rows, err := st.KeyList(ctxT(t), tenantID, &p)
			return n(len(rows), err)
		},
		"KeyList of the admin keys": func(t *testing.T, p store.ListParams) (int, error) {
			rows, err := st.KeyList(ctxT(t), "", &p)
			return n(len(rows), err)
		},
		"DeliveryList": func(t *testing.T, p store.ListParams) (int, error) {
			rows, err := st.DeliveryList(ctxT(t), tenantID, &store.DeliveryListParams{ListParams: p})
			return n(len(rows), err)
		},
	}
}

// withOneOfEach stores a tenant with one row in every list.
func withOneOfEach(t *testing.T, st store.Store) string {
	mkTenant(t, st, "acme")
	mkEndpoint(t, st, "acme")
	mkEvent(t, st, "acme", "user.created", t0)
	do(st.EventTypePut(ctxT(t), &store.EventType{Name: "user.created", CreatedAt: t0, UpdatedAt: t0})).must(t)
	do(st.KeyCreate(ctxT(t), &store.Key{TenantID: "acme", Name: "ci", Hash: "h-acme", CreatedAt: t0})).must(t)
	do(st.KeyCreate(ctxT(t), &store.Key{Name: "root", Hash: "h-admin", CreatedAt: t0})).must(t)
	return "acme"
}

func testListsRefuseHostileCursors(t *testing.T, st store.Store) {
	tenantID := withOneOfEach(t, st)
	for list, fn := range lists(st, tenantID) {
		for what, c := range HostileCursors {
			_, err := fn(t, store.ListParams{Limit: 10, Cursor: c})
			wantBadCursor(t, list+" at "+what, err)
		}
	}
}

// The first and last moments a cursor may name still page: after the last
// one comes every row, after the first none.
func testListsTakeEdgeCursors(t *testing.T, st store.Store) {
	tenantID := withOneOfEach(t, st)
	last := store.EncodeCursor(time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC), "~")
	first := store.EncodeCursor(time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), "x")
	for list, fn := range lists(st, tenantID) {
		if n, err := fn(t, store.ListParams{Limit: 10, Cursor: last}); err != nil || n != 1 {
			t.Errorf("%s after year 9999 = %d rows, %v; want the 1 row", list, n, err)
		}
		if n, err := fn(t, store.ListParams{Limit: 10, Cursor: first}); err != nil || n != 0 {
			t.Errorf("%s after year 1 = %d rows, %v; want none", list, n, err)
		}
	}
}
