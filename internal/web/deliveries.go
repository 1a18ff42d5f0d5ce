package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/format"
	"github.com/heraldhq/herald/internal/signature"
	"github.com/heraldhq/herald/internal/store"
)

// statuses are the delivery statuses a list can be filtered by.
var statuses = []string{store.StatusPending, store.StatusDelivering, store.StatusRetrying, store.StatusDelivered, store.StatusFailed}

type deliveryListData struct {
	Tenant     string
	Status     string
	EndpointID string
	EventID    string
	Statuses   []string
	Deliveries []*store.Delivery
	Pager      pager
	Now        time.Time
	// Live is whether the list refreshes itself: on its first page, while
	// some delivery on it is not final.
	Live bool
}

func (h *Handler) deliveryList(w http.ResponseWriter, r *http.Request, ss *session) {
	ctx := r.Context()
	t, err := h.tenants.Get(ctx, r.PathValue("tenant"))
	if err != nil {
		h.renderError(w, r, ss, err)
		return
	}
	q := r.URL.Query()
	d := &deliveryListData{
		Tenant: t.ID, Status: q.Get("status"), EndpointID: strings.TrimSpace(q.Get("endpoint")),
		EventID: strings.TrimSpace(q.Get("event")), Statuses: statuses, Now: h.now(),
	}
	if d.Status != "" && !slices.Contains(statuses, d.Status) {
		h.renderError(w, r, ss, herald.Invalid("status", "must be one of %s", strings.Join(statuses, ", ")))
		return
	}
	lp, err := listParams(r)
	if err != nil {
		h.renderError(w, r, ss, err)
		return
	}
	rows, err := h.deliveries.List(ctx, t.ID, &store.DeliveryListParams{ListParams: lp, Status: d.Status, EndpointID: d.EndpointID, EventID: d.EventID})
	if err != nil {
		h.renderError(w, r, ss, err)
		return
	}
	d.Deliveries, d.Pager.Next = store.Page(rows, &lp)
	d.Pager.Cursor = lp.Cursor
	d.Pager.Query = url.Values{}
	for k, v := range map[string]string{"status": d.Status, "endpoint": d.EndpointID, "event": d.EventID} {
		if v != "" {
			d.Pager.Query.Set(k, v)
		}
	}
	if lp.Cursor == "" {
		for _, dl := range d.Deliveries {
			if !final(dl.Status) {
				d.Live = true
				break
			}
		}
	}
	title := "Deliveries"
	if d.Status == store.StatusFailed {
		title = "Failed deliveries (dead letters)"
	}
	if r.Header.Get("HX-Request") != "" {
		h.renderFragment(w, http.StatusOK, "deliveries", "delivery_table", h.fragmentPage(ss, d))
		return
	}
	p := h.newPage(ss, title, d)
	p.Nav, p.Tenant = "deliveries", t.ID
	h.render(w, r, http.StatusOK, "deliveries", p)
}

// sentRequest is an attempt's request as the dashboard shows it.
type sentRequest struct {
	Headers []headerLine
	Body    string
}

type headerLine struct{ Name, Value string }

type attemptView struct {
	*store.Attempt
	Request *sentRequest
	// RequestError says why the request cannot be shown.
	RequestError string
}

type deliveryShowData struct {
	Tenant   string
	Delivery *store.Delivery
	Attempts []attemptView
	// Older is how many earlier attempts are not shown (their answers
	// exceed a page).
	Older    int
	Event    *store.Event
	Endpoint *store.Endpoint
	Now      time.Time
}

func (h *Handler) deliveryShow(w http.ResponseWriter, r *http.Request, ss *session) {
	ctx := r.Context()
	tid := r.PathValue("tenant")
	dl, atts, err := h.deliveries.Get(ctx, tid, r.PathValue("delivery"), 0)
	if err != nil {
		h.renderError(w, r, ss, err)
		return
	}
	d := &deliveryShowData{Tenant: tid, Delivery: dl, Older: dl.Attempts - len(atts), Now: h.now()}
	if d.Event, err = h.events.Get(ctx, tid, dl.EventID); err != nil && !errors.Is(err, herald.ErrNotFound) {
		h.renderError(w, r, ss, err)
		return
	}
	if d.Endpoint, err = h.endpoints.Get(ctx, tid, dl.EndpointID); err != nil && !errors.Is(err, herald.ErrNotFound) {
		h.renderError(w, r, ss, err)
		return
	}
	// Newest first, as every list.
	for i := len(atts) - 1; i >= 0; i-- {
		v := attemptView{Attempt: atts[i]}
		v.Request, v.RequestError = h.sentRequest(ctx, dl, d.Event, d.Endpoint, atts[i])
		d.Attempts = append(d.Attempts, v)
	}
	if r.Header.Get("HX-Request") != "" {
		h.renderFragment(w, http.StatusOK, "delivery", "delivery_live", h.fragmentPage(ss, d))
		return
	}
	p := h.newPage(ss, "Delivery "+dl.ID, d)
	p.Nav, p.Tenant = "deliveries", tid
	h.render(w, r, http.StatusOK, "delivery", p)
}

// sentRequest renders an attempt's request again as format.Render, the
// engine's one builder of requests, made it: the same body (rendered from
// the event, the delivery and the endpoint, none of which an attempt
// changes) and the headers at the attempt's time and number, with every
// signature value elided. It is rendered with the endpoint's current
// settings: headers or a format changed since the attempt show as they
// are now.
func (h *Handler) sentRequest(ctx context.Context, dl *store.Delivery, ev *store.Event, ep *store.Endpoint, att *store.Attempt) (*sentRequest, string) {
	switch {
	case ev == nil:
		return nil, "The event is gone, so the request cannot be shown."
	case ep == nil:
		return nil, "The endpoint is gone, so the request cannot be shown."
	}
	f, err := h.cfg.Formats.Get(ctx, ep.Format)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, fmt.Sprintf("The endpoint's format %q no longer exists, so the request cannot be shown.", ep.Format)
	case err != nil:
		// A database error's text names the operator's network (its host
		// and port), and this page is also a tenant's, in its portal: the
		// log has it.
		h.log.Error("dashboard: read an attempt's format", "format", ep.Format, "err", err)
		return nil, "The endpoint's format cannot be read now; try again in a moment."
	}
	in, err := format.NewInput(&format.Event{
		TenantID: ev.TenantID, ID: ev.ID, Type: ev.Type, Data: ev.Data, TraceID: ev.TraceID, CreatedAt: ev.CreatedAt,
	}, dl.ID, ep.ID)
	if err != nil {
		return nil, err.Error()
	}
	in.Timestamp, in.Attempt = att.StartedAt, att.Number
	out, err := f.Render(in, &format.RenderParams{Headers: ep.Headers, Secrets: []string{ep.Secret}})
	if err != nil {
		return nil, "The request cannot be rendered: " + err.Error()
	}
	secret := signatureHeaders(f)
	req := &sentRequest{Body: string(out.Body)}
	names := make([]string, 0, len(out.Header))
	for k := range out.Header {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := strings.Join(out.Header[k], ", ")
		if slices.Contains(secret, http.CanonicalHeaderKey(k)) {
			v = "(signature elided)"
		}
		req.Headers = append(req.Headers, headerLine{Name: k, Value: v})
	}
	return req, ""
}

// signatureHeaders are the canonical names of the headers that carry the
// format's signature.
func signatureHeaders(f *format.Format) []string {
	c := f.Signature()
	if c.SchemeName() == signature.StandardWebhooks {
		return []string{http.CanonicalHeaderKey(signature.HeaderWebhookSignature)}
	}
	return []string{http.CanonicalHeaderKey(c.Header)}
}

func (h *Handler) deliveryRetry(w http.ResponseWriter, r *http.Request, ss *session) {
	tid, did := r.PathValue("tenant"), r.PathValue("delivery")
	_, err := h.deliveries.Retry(r.Context(), tid, did)
	switch {
	case errors.Is(err, herald.ErrConflict):
		h.flashTo(w, r, ss, deliveryPath(tid, did), flash{Kind: "error", Message: err.Error()})
	case err != nil:
		h.renderError(w, r, ss, err)
	default:
		h.flashTo(w, r, ss, deliveryPath(tid, did), flash{Kind: "ok", Message: "Retry queued: a new series of attempts starts now."})
	}
}

// Events.

type eventListData struct {
	Tenant string
	Type   string
	ID     string
	Events []*store.Event
	Pager  pager
	Error  string
	Now    time.Time
}

func (h *Handler) eventList(w http.ResponseWriter, r *http.Request, ss *session) {
	ctx := r.Context()
	t, err := h.tenants.Get(ctx, r.PathValue("tenant"))
	if err != nil {
		h.renderError(w, r, ss, err)
		return
	}
	q := r.URL.Query()
	d := &eventListData{Tenant: t.ID, Type: strings.TrimSpace(q.Get("type")), ID: strings.TrimSpace(q.Get("id")), Now: h.now()}
	status := http.StatusOK
	if d.ID != "" {
		ev, err := h.events.Get(ctx, t.ID, d.ID)
		switch {
		case err == nil:
			http.Redirect(w, r, tenantPath(t.ID)+"/events/"+url.PathEscape(ev.ID), http.StatusSeeOther)
			return
		case errors.Is(err, herald.ErrNotFound):
			status, d.Error = http.StatusNotFound, "No event of this tenant has the id "+d.ID+"."
		default:
			h.renderError(w, r, ss, err)
			return
		}
	}
	lp, err := listParams(r)
	if err != nil {
		h.renderError(w, r, ss, err)
		return
	}
	rows, err := h.events.List(ctx, t.ID, &store.EventListParams{ListParams: lp, Type: d.Type})
	if err != nil {
		h.renderError(w, r, ss, err)
		return
	}
	d.Events, d.Pager.Next = store.Page(rows, &lp)
	d.Pager.Cursor = lp.Cursor
	if d.Type != "" {
		d.Pager.Query = url.Values{"type": {d.Type}}
	}
	p := h.newPage(ss, "Events", d)
	p.Nav, p.Tenant = "events", t.ID
	h.render(w, r, status, "events", p)
}

type eventShowData struct {
	Tenant     string
	Event      *store.Event
	Deliveries []*store.Delivery
	Pager      pager
	Now        time.Time
}

func (h *Handler) eventShow(w http.ResponseWriter, r *http.Request, ss *session) {
	ctx := r.Context()
	tid := r.PathValue("tenant")
	ev, err := h.events.Get(ctx, tid, r.PathValue("event"))
	if err != nil {
		h.renderError(w, r, ss, err)
		return
	}
	lp, err := listParams(r)
	if err != nil {
		h.renderError(w, r, ss, err)
		return
	}
	rows, err := h.deliveries.List(ctx, tid, &store.DeliveryListParams{ListParams: lp, EventID: ev.ID})
	if err != nil {
		h.renderError(w, r, ss, err)
		return
	}
	d := &eventShowData{Tenant: tid, Event: ev, Now: h.now()}
	d.Deliveries, d.Pager.Next = store.Page(rows, &lp)
	d.Pager.Cursor = lp.Cursor
	p := h.newPage(ss, "Event "+ev.ID, d)
	p.Nav, p.Tenant = "events", tid
	h.render(w, r, http.StatusOK, "event", p)
}
