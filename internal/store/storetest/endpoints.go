package storetest

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

func fullEndpoint(tenantID string) *store.Endpoint {
	exp := t0.Add(24 * time.Hour)
	return &store.Endpoint{
		TenantID:                tenantID,
		URL:                     "https://hooks.example.com/in?x=1",
		Description:             "orders to the ERP",
		Events:                  []string{"order.*", "user.created"},
		Format:                  "standard-webhooks",
		Secret:                  "whsec_new",
		PreviousSecret:          "whsec_old",
		PreviousSecretExpiresAt: &exp,
		Enabled:                 true,
		Headers:                 map[string]string{"X-Team": "billing", "Authorization": "Bearer x"},
		RateLimit:               25,
		Metadata:                json.RawMessage(`{"owner":"ops","n":1.50}`),
		CreatedAt:               t0,
	}
}

func sameEndpoint(t *testing.T, what string, got, want *store.Endpoint) {
	t.Helper()
	if got.ID != want.ID || got.TenantID != want.TenantID || got.URL != want.URL ||
		got.Description != want.Description || !reflect.DeepEqual(got.Events, want.Events) ||
		got.Format != want.Format || got.Secret != want.Secret || got.PreviousSecret != want.PreviousSecret ||
		got.Enabled != want.Enabled || !reflect.DeepEqual(got.Headers, want.Headers) ||
		got.RateLimit != want.RateLimit || string(got.Metadata) != string(want.Metadata) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
	sameTimePtr(t, what+" PreviousSecretExpiresAt", got.PreviousSecretExpiresAt, want.PreviousSecretExpiresAt)
}

func testEndpointCreateGet(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	in := fullEndpoint("acme")
	got := do(st.EndpointCreate(ctx, in)).must(t)
	if !strings.HasPrefix(got.ID, "ep_") {
		t.Errorf("endpoint id %q, want an ep_ id", got.ID)
	}
	want := *in
	want.ID = got.ID
	want.PreviousSecretExpiresAt = ptr(us(*in.PreviousSecretExpiresAt))
	sameEndpoint(t, "EndpointCreate", got, &want)
	sameTime(t, "endpoint CreatedAt", got.CreatedAt, us(t0))

	read := do(st.EndpointGet(ctx, "acme", got.ID)).must(t)
	sameEndpoint(t, "EndpointGet", read, &want)
	sameTime(t, "endpoint CreatedAt read back", read.CreatedAt, us(t0))

	// Empty optional fields come back empty, not null.
	bare := do(st.EndpointCreate(ctx, &store.Endpoint{TenantID: "acme", URL: "https://x.example", Events: []string{"*"}})).must(t)
	if bare.Headers == nil || len(bare.Headers) != 0 || string(bare.Metadata) != "{}" || bare.PreviousSecretExpiresAt != nil || bare.Enabled {
		t.Errorf("bare endpoint = %+v, want empty headers, {} metadata, no expiry, disabled", bare)
	}

	_, err := st.EndpointGet(ctx, "acme", "ep_missing")
	wantErr(t, err, store.ErrNotFound, "EndpointGet of a missing endpoint")
	_, err = st.EndpointCreate(ctx, fullEndpoint("ghost"))
	wantErr(t, err, store.ErrNotFound, "EndpointCreate for a missing tenant")
}

func testEndpointUpdate(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	ep := do(st.EndpointCreate(ctx, fullEndpoint("acme"))).must(t)
	ep.URL = "https://new.example/h"
	ep.Description = ""
	ep.Events = []string{"*"}
	ep.Format = ""
	ep.Secret = "whsec_3"
	ep.PreviousSecret = ""
	ep.PreviousSecretExpiresAt = nil
	ep.Enabled = false
	ep.Headers = map[string]string{"A": "b"}
	ep.RateLimit = 0
	ep.Metadata = json.RawMessage(`{"v":2}`)
	ep.UpdatedAt = t0.Add(time.Hour)
	got := do(st.EndpointUpdate(ctx, ep)).must(t)
	sameEndpoint(t, "EndpointUpdate", got, ep)
	sameTime(t, "CreatedAt after update", got.CreatedAt, us(t0))
	sameTime(t, "UpdatedAt after update", got.UpdatedAt, us(t0.Add(time.Hour)))
	sameEndpoint(t, "EndpointGet after update", do(st.EndpointGet(ctx, "acme", ep.ID)).must(t), ep)

	missing := *ep
	missing.ID = "ep_missing"
	_, err := st.EndpointUpdate(ctx, &missing)
	wantErr(t, err, store.ErrNotFound, "EndpointUpdate of a missing endpoint")
}

func testEndpointListPages(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	mkTenant(t, st, "other")
	var want []string
	for i := range 5 {
		ep := mkEndpoint(t, st, "acme", func(e *store.Endpoint) { e.CreatedAt = t0.Add(time.Duration(i) * time.Second) })
		want = append([]string{ep.ID}, want...)
	}
	mkEndpoint(t, st, "other")
	all, pages := walk(t, 2, func(c string) ([]*store.Endpoint, error) {
		return st.EndpointList(ctx, "acme", &store.ListParams{Limit: 2, Cursor: c})
	})
	wantIDs(t, "acme's endpoints, newest first", ids(all, func(e *store.Endpoint) string { return e.ID }), want)
	if pages != 3 {
		t.Errorf("5 endpoints by 2: %d pages, want 3", pages)
	}
	_, err := st.EndpointList(ctx, "acme", &store.ListParams{Cursor: "AQ"})
	wantBadCursor(t, "EndpointList", err)
}

func testEndpointTenantIsolation(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "a")
	mkTenant(t, st, "b")
	epA := mkEndpoint(t, st, "a")
	ev := mkEvent(t, st, "a", "user.created", t0)

	_, err := st.EndpointGet(ctx, "b", epA.ID)
	wantErr(t, err, store.ErrNotFound, "tenant b getting a's endpoint")
	stolen := *epA
	stolen.TenantID = "b"
	stolen.URL = "https://evil.example"
	_, err = st.EndpointUpdate(ctx, &stolen)
	wantErr(t, err, store.ErrNotFound, "tenant b updating a's endpoint")
	wantErr(t, st.EndpointDelete(ctx, "b", epA.ID), store.ErrNotFound, "tenant b deleting a's endpoint")
	if list := do(st.EndpointList(ctx, "b", &store.ListParams{})).must(t); len(list) != 0 {
		t.Errorf("tenant b lists %d endpoints, want none of a's", len(list))
	}
	_, err = st.EventGet(ctx, "b", ev.Event.ID)
	wantErr(t, err, store.ErrNotFound, "tenant b getting a's event")
	_, err = st.DeliveryGet(ctx, "b", ev.Deliveries[0].ID)
	wantErr(t, err, store.ErrNotFound, "tenant b getting a's delivery")
	_, err = st.DeliveryReplay(ctx, "b", epA.ID, t0.Add(-time.Hour), t0.Add(time.Hour), t0)
	wantErr(t, err, store.ErrNotFound, "tenant b replaying a's endpoint")
	_, err = st.EventCreate(ctx, &store.EventCreateParams{Event: newEvent("b", "", "x", "{}"), EndpointIDs: []string{epA.ID}, Now: t0})
	wantErr(t, err, store.ErrNotFound, "tenant b sending to a's endpoint")

	if got := do(st.EndpointGet(ctx, "a", epA.ID)).must(t); got.URL != epA.URL {
		t.Errorf("a's endpoint URL = %q after b's attempts, want %q", got.URL, epA.URL)
	}
}

func testEndpointDeleteCascades(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	ep1 := mkEndpoint(t, st, "acme")
	ep2 := mkEndpoint(t, st, "acme")
	ev := mkEvent(t, st, "acme", "user.created", t0)
	if len(ev.Deliveries) != 2 {
		t.Fatalf("event made %d deliveries, want 2", len(ev.Deliveries))
	}
	for _, c := range claim(t, st, "w", t0, 10, 10) {
		record(t, st, "w", c.Delivery.ID, store.StatusFailed, t0, nil)
	}
	if err := st.EndpointDelete(ctx, "acme", ep1.ID); err != nil {
		t.Fatalf("EndpointDelete: %v", err)
	}
	_, err := st.EndpointGet(ctx, "acme", ep1.ID)
	wantErr(t, err, store.ErrNotFound, "EndpointGet after delete")
	for _, d := range ev.Deliveries {
		_, err := st.DeliveryGet(ctx, "acme", d.ID)
		atts := do(st.DeliveryAttempts(ctx, d.ID)).must(t)
		if d.EndpointID == ep1.ID {
			wantErr(t, err, store.ErrNotFound, "delivery of the deleted endpoint")
			if len(atts) != 0 {
				t.Errorf("attempts of the deleted endpoint's delivery: %d, want 0", len(atts))
			}
		} else {
			if err != nil || len(atts) != 1 {
				t.Errorf("delivery to the kept endpoint %s: err %v, %d attempts; want it and its attempt kept", ep2.ID, err, len(atts))
			}
		}
	}
	do(st.EventGet(ctx, "acme", ev.Event.ID)).must(t)
	wantErr(t, st.EndpointDelete(ctx, "acme", ep1.ID), store.ErrNotFound, "EndpointDelete twice")
}
