package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/jsonstyle"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

// A member named twice in its object is found, wherever it is.
func TestDuplicateMember(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`{"a":1,"b":2}`:                       "",
		`{"a":1,"a":2}`:                       "body.a",
		`{"a":{"b":1,"c":[1,{"d":1,"d":2}]}}`: "body.a.c[1].d",
		`[{"x":1},{"x":1},{"y":[],"y":0}]`:    "body[2].y",
		`{"a":{"x":1},"b":{"x":1}}`:           "",
		`{"a":[[],[{"k":1}],{"k":{}}],"k":1}`: "",
		`{"h":[{"n":1},{"n":2,"v":3,"n":4}]}`: "body.h[1].n",
		`"x"`:                                 "",
	} {
		got, ok := duplicateMember([]byte(in))
		if got != want || ok != (want != "") {
			t.Errorf("duplicateMember(%s) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

// FuzzDuplicateMember: on any valid JSON, duplicateMember agrees with
// jsonstyle's strict parser, which refuses a duplicate key: a body it
// parses has none, and one with a duplicate does not parse.
func FuzzDuplicateMember(f *testing.F) {
	for _, s := range []string{`{"a":1,"a":2}`, `[{"x":[{"y":1,"y":1}]}]`, `{"a":{},"b":{"a":1}}`, `[]`, `{"\u0061":1,"a":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return
		}
		at, dup := duplicateMember(data)
		_, err := jsonstyle.Parse(data)
		if err == nil && dup {
			t.Fatalf("%q: duplicate at %s, but jsonstyle parses it", data, at)
		}
		if err != nil && strings.Contains(err.Error(), "duplicate key") && !dup {
			t.Fatalf("%q: no duplicate found, but jsonstyle says %v", data, err)
		}
	})
}

// Body members are matched exactly and once, on every operation.
func TestBodyMembers_ExactAndOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, dbtest.SQLite(t))
	h.tenantWithKey(t, "acme")
	admin := h.as(h.admin)
	r := admin.post("/api/v1/tenants/acme/endpoints", `{"URL":"https://example.com/h","events":["*"]}`)
	wantProblem(t, r, http.StatusUnprocessableEntity, "body.URL")
	r = admin.post("/api/v1/tenants/acme/endpoints", `{"url":"https://example.com/h","url":"https://example.org/x"}`)
	wantProblem(t, r, http.StatusUnprocessableEntity, "body.url")
	r = admin.post("/api/v1/tenants/acme/endpoints", `{"url":"https://example.com/h","headers":{"X-A":"1","X-A":"2"}}`)
	wantProblem(t, r, http.StatusUnprocessableEntity, "body.headers.X-A")
	wantProblem(t, admin.post("/api/v1/tenants", `{"ID":"globex"}`), http.StatusUnprocessableEntity, "body.ID")
	want(t, admin.post("/api/v1/tenants", `{"id":"globex"}`), http.StatusCreated)
}
