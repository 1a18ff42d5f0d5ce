package api

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

// Every registered operation refuses, naming it, a query parameter it
// does not declare, a declared one given twice, and a body member it does
// not know: input is never silently ignored (issue 10).
func TestUnknownInput_EveryOperationRefusesIt(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		h.tenantWithKey(t, "acme")
		doc := h.srv.api.OpenAPI()
		param := regexp.MustCompile(`\{[^}]+\}`)
		ops := 0
		for path, item := range doc.Paths {
			for method, op := range map[string]*struct {
				params []string
				body   bool
				ok     bool
			}{
				http.MethodGet: opInfo(item.Get), http.MethodPost: opInfo(item.Post), http.MethodPut: opInfo(item.Put),
				http.MethodPatch: opInfo(item.Patch), http.MethodDelete: opInfo(item.Delete),
			} {
				if !op.ok {
					continue
				}
				ops++
				concrete := strings.ReplaceAll(path, "{tenant}", "acme")
				concrete = param.ReplaceAllString(concrete, "x")
				what := method + " " + path

				r := h.do(req{method: method, path: concrete + "?bogus=1", key: h.admin})
				wantFault(t, what+"?bogus=1", r, "query.bogus")

				r = h.do(req{method: method, path: concrete, key: h.admin, body: `{"bogus": true}`})
				wantFault(t, what+` {"bogus": true}`, r, "body.bogus")

				for _, p := range op.params {
					r := h.do(req{method: method, path: concrete + "?" + p + "=1&" + p + "=2", key: h.admin})
					wantFault(t, what+"?"+p+" twice", r, "query."+p)
				}
			}
		}
		if ops != len(h.srv.patterns) {
			t.Fatalf("walked %d operations, want all %d registered", ops, len(h.srv.patterns))
		}
	})
}

// opInfo is what the walk needs of an operation: its query parameters,
// whether it takes a body, and whether it exists.
func opInfo(op *huma.Operation) *struct {
	params []string
	body   bool
	ok     bool
} {
	out := &struct {
		params []string
		body   bool
		ok     bool
	}{ok: op != nil}
	if op == nil {
		return out
	}
	for _, p := range op.Parameters {
		if p.In == "query" {
			out.params = append(out.params, p.Name)
		}
	}
	out.body = op.RequestBody != nil
	return out
}

// wantFault fails unless r is a 422 with a field error at loc.
func wantFault(t *testing.T, what string, r *response, loc string) {
	t.Helper()
	if r.Code != http.StatusUnprocessableEntity {
		t.Errorf("%s: got %d, want 422 at %s: %.300s", what, r.Code, loc, r.Body)
		return
	}
	checkProblem(t, r)
	var p struct {
		Errors []struct{ Location, Message string }
	}
	json.Unmarshal(r.Body, &p)
	for _, e := range p.Errors {
		if e.Location == loc {
			return
		}
	}
	t.Errorf("%s: no fault at %s: %s", what, loc, r.Body)
}

// What an operation without a body takes, and what it refuses.
func TestUnknownInput_OperationsWithoutABody(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		h := newHarness(t, st)
		h.tenantWithKey(t, "acme")
		admin := h.as(h.admin)
		const retry = "/api/v1/tenants/acme/deliveries/dlv_nope/retry"
		// Nothing, white space, null and {} are no input: the delivery is
		// then looked for, and missing.
		for _, body := range []any{nil, " \n", "null", "{}", " { } "} {
			wantProblem(t, h.do(req{method: http.MethodPost, path: retry, key: h.admin, body: body}), http.StatusNotFound, "")
		}
		r := admin.post(retry, `{"force": true, "now": 1}`)
		wantProblem(t, r, http.StatusUnprocessableEntity, "body.force")
		wantProblem(t, r, http.StatusUnprocessableEntity, "body.now")
		if !strings.Contains(r.str(t, "detail"), "body.force") {
			t.Errorf("detail %q does not name body.force", r.str(t, "detail"))
		}
		wantProblem(t, admin.post(retry, `[1]`), http.StatusUnprocessableEntity, "body")
		wantProblem(t, admin.post(retry, `"force"`), http.StatusUnprocessableEntity, "body")
		wantProblem(t, admin.post(retry, `{"force": `), http.StatusBadRequest, "")
		// A thousand made-up members are named only so far.
		var b strings.Builder
		b.WriteString("{")
		for i := range 1000 {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(`"m` + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + `": 1`)
		}
		b.WriteString("}")
		r = admin.post(retry, b.String())
		want(t, r, http.StatusUnprocessableEntity)
		var p struct{ Errors []any }
		json.Unmarshal(r.Body, &p)
		if len(p.Errors) == 0 || len(p.Errors) > maxUnknownFields {
			t.Errorf("%d field errors, want 1 to %d", len(p.Errors), maxUnknownFields)
		}

		// A parameter's message lists the ones the operation takes.
		r = admin.get("/api/v1/tenants/acme/deliveries?since_when=x")
		wantProblem(t, r, http.StatusUnprocessableEntity, "query.since_when")
		if !strings.Contains(string(r.Body), "status, endpoint, event") {
			t.Errorf("the refusal does not list the parameters taken: %s", r.Body)
		}
		// Declared parameters given once are fine, empty ones too.
		want(t, admin.get("/api/v1/tenants/acme/deliveries?limit=5&status=&cursor="), http.StatusOK)
		if strings.Contains(h.logs.String(), "level=ERROR") {
			t.Fatalf("refusals were logged as server errors:\n%s", h.logs.String())
		}
	})
}
