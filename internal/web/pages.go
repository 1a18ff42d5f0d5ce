package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	engine "github.com/heraldhq/herald/internal/delivery"
	endpointsvc "github.com/heraldhq/herald/internal/endpoint"
	"github.com/heraldhq/herald/internal/replay"
	"github.com/heraldhq/herald/internal/store"
	tenantsvc "github.com/heraldhq/herald/internal/tenant"
)

// pager is a list's place: the cursor of this page ("" for the first) and
// of the next ("" on the last).
type pager struct {
	Cursor string
	Next   string
	// Query is the list's other parameters, kept in the next page's link.
	Query url.Values
}

// NextURL is the query of the next page.
func (p *pager) NextURL() string {
	q := url.Values{}
	for k, v := range p.Query {
		q[k] = v
	}
	q.Set("cursor", p.Next)
	return "?" + q.Encode()
}

// FirstURL is the query of the first page.
func (p *pager) FirstURL() string {
	if len(p.Query) == 0 {
		return "?"
	}
	return "?" + p.Query.Encode()
}

// listParams reads the page's cursor; a cursor the server did not make is
// the user's 422, as in the API.
func listParams(r *http.Request) (store.ListParams, error) {
	c := r.URL.Query().Get("cursor")
	if c != "" {
		if _, _, err := store.DecodeCursor(c); err != nil {
			return store.ListParams{}, err
		}
	}
	return store.ListParams{Limit: pageLimit, Cursor: c}, nil
}

// flashTo adds a flash to the session and sends the browser to path (the
// answer to every form that changes something: a reload does not send it
// again).
func (h *Handler) flashTo(w http.ResponseWriter, r *http.Request, ss *session, path string, f flash) {
	h.sessions.addFlash(ss, f)
	http.Redirect(w, r, path, http.StatusSeeOther)
}

func tenantPath(t string) string { return "/tenants/" + url.PathEscape(t) }

func endpointPath(t, e string) string { return tenantPath(t) + "/endpoints/" + url.PathEscape(e) }

func deliveryPath(t, d string) string { return tenantPath(t) + "/deliveries/" + url.PathEscape(d) }

// Tenants.

type tenantListData struct {
	Tenants []*store.Tenant
	Pager   pager
	Form    struct{ ID, Name string }
	Errors  []herald.FieldError
}

func (h *Handler) tenantList(w http.ResponseWriter, r *http.Request, ss *session) {
	h.showTenants(w, r, ss, http.StatusOK, &tenantListData{})
}

func (h *Handler) showTenants(w http.ResponseWriter, r *http.Request, ss *session, status int, d *tenantListData) {
	lp, err := listParams(r)
	if err != nil {
		h.renderError(w, r, ss, err)
		return
	}
	rows, err := h.tenants.List(r.Context(), &lp)
	if err != nil {
		h.renderError(w, r, ss, err)
		return
	}
	d.Tenants, d.Pager.Next = store.Page(rows, &lp)
	d.Pager.Cursor = lp.Cursor
	p := h.newPage(ss, "Tenants", d)
	p.Nav = "tenants"
	h.render(w, r, status, "tenants", p)
}

func (h *Handler) tenantCreate(w http.ResponseWriter, r *http.Request, ss *session) {
	d := &tenantListData{}
	d.Form.ID, d.Form.Name = strings.TrimSpace(r.PostForm.Get("id")), strings.TrimSpace(r.PostForm.Get("name"))
	t, err := h.tenants.Create(r.Context(), &tenantsvc.CreateParams{ID: d.Form.ID, Name: d.Form.Name})
	if err != nil {
		if d.Errors = fieldErrors(err); d.Errors == nil && !errors.Is(err, herald.ErrConflict) {
			h.renderError(w, r, ss, err)
			return
		}
		if errors.Is(err, herald.ErrConflict) {
			d.Errors = []herald.FieldError{{Location: "id", Message: err.Error()}}
		}
		status, _ := h.describe(r.Context(), r, err)
		h.showTenants(w, r, ss, status, d)
		return
	}
	h.flashTo(w, r, ss, tenantPath(t.ID), flash{Kind: "ok", Message: "Tenant " + t.ID + " created."})
}

// Endpoints.

// endpointForm is an endpoint's editable fields as the form has them.
type endpointForm struct {
	URL, Description, Events, Format, RateLimit string
	Enabled                                     bool
}

func formOf(e *store.Endpoint) endpointForm {
	return endpointForm{
		URL: e.URL, Description: e.Description, Events: strings.Join(e.Events, ", "),
		Format: e.Format, RateLimit: strconv.Itoa(e.RateLimit), Enabled: e.Enabled,
	}
}

func readEndpointForm(r *http.Request) endpointForm {
	f := r.PostForm
	return endpointForm{
		URL: strings.TrimSpace(f.Get("url")), Description: strings.TrimSpace(f.Get("description")),
		Events: f.Get("events"), Format: strings.TrimSpace(f.Get("format")),
		RateLimit: strings.TrimSpace(f.Get("rate_limit")), Enabled: f.Get("enabled") != "",
	}
}

// filters splits the events field at commas and spaces.
func (f *endpointForm) filters() []string {
	out := []string{}
	for _, s := range strings.FieldsFunc(f.Events, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }) {
		out = append(out, s)
	}
	return out
}

// rateLimit reads the rate limit field: "" is 0 (no limit).
func (f *endpointForm) rateLimit() (int, error) {
	if f.RateLimit == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(f.RateLimit)
	if err != nil {
		return 0, herald.Invalid("rate_limit", "must be a whole number of attempts a second (0 for no limit)")
	}
	return n, nil
}

// endpointRow is an endpoint with the time its health is shown at.
type endpointRow struct {
	*store.Endpoint
	Now time.Time
}

// SuccessRate is the share of the last 24 hours' attempts that succeeded,
// with how many there were: "98.5% of 400 attempts".
func (e endpointRow) SuccessRate() string {
	ok, all := e.Health.Succeeded24h, e.Health.Succeeded24h+e.Health.Failed24h
	if all == 0 {
		return "no attempts"
	}
	pct := strconv.FormatFloat(100*float64(ok)/float64(all), 'f', 1, 64)
	switch ok {
	case all:
		pct = "100"
	case 0:
		pct = "0"
	}
	unit := " attempts"
	if all == 1 {
		unit = " attempt"
	}
	return pct + "% of " + count(all) + unit
}

type tenantShowData struct {
	Tenant    *store.Tenant
	Endpoints []endpointRow
	Pager     pager
	Form      endpointForm
	Errors    []herald.FieldError
	Formats   []string
	Default   string
	Now       time.Time
}

func (h *Handler) tenantShow(w http.ResponseWriter, r *http.Request, ss *session) {
	h.showTenant(w, r, ss, http.StatusOK, &tenantShowData{Form: endpointForm{Events: "*", Enabled: true}})
}

func (h *Handler) formatNames(r *http.Request) ([]string, error) {
	entries, err := h.cfg.Formats.List(r.Context())
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name
	}
	return names, nil
}

func (h *Handler) showTenant(w http.ResponseWriter, r *http.Request, ss *session, status int, d *tenantShowData) {
	ctx := r.Context()
	t, err := h.tenants.Get(ctx, r.PathValue("tenant"))
	if err != nil {
		h.renderError(w, r, ss, err)
		return
	}
	lp, err := listParams(r)
	if err != nil {
		h.renderError(w, r, ss, err)
		return
	}
	rows, err := h.endpoints.List(ctx, t.ID, &lp)
	if err != nil {
		h.renderError(w, r, ss, err)
		return
	}
	eps, next := store.Page(rows, &lp)
	now := h.now()
	for _, e := range eps {
		d.Endpoints = append(d.Endpoints, endpointRow{Endpoint: e, Now: now})
	}
	if d.Formats, err = h.formatNames(r); err != nil {
		h.renderError(w, r, ss, err)
		return
	}
	d.Tenant, d.Pager, d.Default, d.Now = t, pager{Cursor: lp.Cursor, Next: next}, h.cfg.Formats.DefaultName(), now
	p := h.newPage(ss, "Tenant "+t.ID, d)
	p.Nav, p.Tenant = "endpoints", t.ID
	h.render(w, r, status, "tenant", p)
}

func (h *Handler) endpointCreate(w http.ResponseWriter, r *http.Request, ss *session) {
	tid := r.PathValue("tenant")
	form := readEndpointForm(r)
	rate, err := form.rateLimit()
	var e *store.Endpoint
	var secret string
	if err == nil {
		e, secret, err = h.endpoints.Create(r.Context(), tid, &endpointsvc.CreateParams{
			URL: form.URL, Description: form.Description, Events: form.filters(), Format: form.Format,
			Enabled: &form.Enabled, RateLimit: rate,
		})
	}
	if err != nil {
		errs := fieldErrors(err)
		if errs == nil {
			h.renderError(w, r, ss, err)
			return
		}
		h.showTenant(w, r, ss, http.StatusUnprocessableEntity, &tenantShowData{Form: form, Errors: errs})
		return
	}
	h.flashTo(w, r, ss, endpointPath(tid, e.ID), flash{
		Kind: "secret", Secret: secret,
		Message: "Endpoint created. This is its signing secret: copy it now, it is not shown again.",
	})
}

type endpointShowData struct {
	Tenant     string
	Endpoint   *store.Endpoint
	Row        endpointRow
	Form       endpointForm
	Errors     []herald.FieldError
	Formats    []string
	Default    string
	Deliveries []*store.Delivery
	Test       *engine.TestResult
	TestError  string
	Now        time.Time
}

func (h *Handler) endpointShow(w http.ResponseWriter, r *http.Request, ss *session) {
	h.showEndpoint(w, r, ss, http.StatusOK, &endpointShowData{})
}

func (h *Handler) showEndpoint(w http.ResponseWriter, r *http.Request, ss *session, status int, d *endpointShowData) {
	ctx := r.Context()
	tid := r.PathValue("tenant")
	e, err := h.endpoints.Get(ctx, tid, r.PathValue("endpoint"))
	if err != nil {
		h.renderError(w, r, ss, err)
		return
	}
	if d.Errors == nil {
		d.Form = formOf(e)
	}
	lp := store.ListParams{Limit: 10}
	rows, err := h.deliveries.List(ctx, tid, &store.DeliveryListParams{ListParams: lp, EndpointID: e.ID})
	if err != nil {
		h.renderError(w, r, ss, err)
		return
	}
	d.Deliveries, _ = store.Page(rows, &lp)
	if d.Formats, err = h.formatNames(r); err != nil {
		h.renderError(w, r, ss, err)
		return
	}
	d.Tenant, d.Endpoint, d.Default, d.Now = tid, e, h.cfg.Formats.DefaultName(), h.now()
	d.Row = endpointRow{Endpoint: e, Now: d.Now}
	p := h.newPage(ss, "Endpoint "+e.ID, d)
	p.Nav, p.Tenant = "endpoints", tid
	h.render(w, r, status, "endpoint", p)
}

func (h *Handler) endpointUpdate(w http.ResponseWriter, r *http.Request, ss *session) {
	tid, eid := r.PathValue("tenant"), r.PathValue("endpoint")
	form := readEndpointForm(r)
	rate, err := form.rateLimit()
	if err == nil {
		_, err = h.endpoints.Update(r.Context(), tid, eid, &endpointsvc.UpdateParams{
			URL: &form.URL, Description: &form.Description, Events: form.filters(), Format: &form.Format,
			Enabled: &form.Enabled, RateLimit: &rate,
		})
	}
	if err != nil {
		errs := fieldErrors(err)
		if errs == nil {
			h.renderError(w, r, ss, err)
			return
		}
		h.showEndpoint(w, r, ss, http.StatusUnprocessableEntity, &endpointShowData{Form: form, Errors: errs})
		return
	}
	h.flashTo(w, r, ss, endpointPath(tid, eid), flash{Kind: "ok", Message: "Endpoint saved."})
}

func (h *Handler) endpointRotate(w http.ResponseWriter, r *http.Request, ss *session) {
	tid, eid := r.PathValue("tenant"), r.PathValue("endpoint")
	_, secret, err := h.endpoints.RotateSecret(r.Context(), tid, eid, &endpointsvc.RotateParams{Grace: strings.TrimSpace(r.PostForm.Get("grace"))})
	if err != nil {
		if errs := fieldErrors(err); errs != nil {
			h.flashTo(w, r, ss, endpointPath(tid, eid), flash{Kind: "error", Message: "The secret was not rotated: " + err.Error()})
			return
		}
		h.renderError(w, r, ss, err)
		return
	}
	h.flashTo(w, r, ss, endpointPath(tid, eid), flash{
		Kind: "secret", Secret: secret,
		Message: "Secret rotated. This is the new signing secret: copy it now, it is not shown again.",
	})
}

// endpointTest sends the test event now and shows what the receiver
// answered: in place for htmx, else on the endpoint's page.
func (h *Handler) endpointTest(w http.ResponseWriter, r *http.Request, ss *session) {
	tid, eid := r.PathValue("tenant"), r.PathValue("endpoint")
	d := &endpointShowData{Tenant: tid}
	if h.cfg.Tester == nil {
		d.TestError = "Test sends are not available on this server."
	} else {
		res, err := h.cfg.Tester.Test(r.Context(), tid, eid)
		switch {
		case errors.Is(err, herald.ErrNotFound):
			h.renderStatus(w, r, ss, http.StatusNotFound, "endpoint "+eid+" not found")
			return
		case err != nil:
			_, d.TestError = h.describe(r.Context(), r, err)
		default:
			d.Test = res
		}
	}
	if r.Header.Get("HX-Request") != "" {
		h.renderFragment(w, http.StatusOK, "endpoint", "test_result", h.fragmentPage(ss, d))
		return
	}
	h.showEndpoint(w, r, ss, http.StatusOK, d)
}

func (h *Handler) endpointReplay(w http.ResponseWriter, r *http.Request, ss *session) {
	tid, eid := r.PathValue("tenant"), r.PathValue("endpoint")
	since, err := time.ParseDuration(strings.TrimSpace(r.PostForm.Get("window")))
	if err != nil || since <= 0 {
		h.flashTo(w, r, ss, endpointPath(tid, eid), flash{Kind: "error", Message: "Replay: the window must be a duration such as 1h or 30m."})
		return
	}
	rp, err := h.replays.Start(r.Context(), tid, eid, &replay.StartParams{Since: h.now().Add(-since)})
	if err != nil {
		if fieldErrors(err) != nil {
			h.flashTo(w, r, ss, endpointPath(tid, eid), flash{Kind: "error", Message: "Replay: " + err.Error()})
			return
		}
		h.renderError(w, r, ss, err)
		return
	}
	msg := "Replay queued " + strconv.Itoa(rp.Queued) + " failed deliveries of the last " + since.String() + " again."
	if rp.Status == store.ReplayRunning {
		msg = "Replay " + rp.ID + " queued " + strconv.Itoa(rp.Queued) + " failed deliveries of the last " + since.String() + " so far, and goes on in the background."
	}
	h.flashTo(w, r, ss, endpointPath(tid, eid), flash{Kind: "ok", Message: msg})
}
