package storetest

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

func fullEndpoint(tenantID string) *store.Endpoint {
	return &store.Endpoint{
		TenantID:    tenantID,
		URL:         "https://hooks.example.com/in?x=1",
		Description: "orders to the ERP",
		Events:      []string{"order.*", "user.created"},
		Format:      "standard-webhooks",
		Secret:      "whsec_new",
		// Two rotations: the older secret's grace outlasts the newer's,
		// and the oldest's replacement time is unknown.
		PreviousSecrets: []store.PreviousSecret{
			{Secret: "whsec_old", ReplacedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)},
			{Secret: "whsec_older", ExpiresAt: t0.Add(72 * time.Hour)},
		},
		Enabled:   true,
		Headers:   map[string]string{"X-Team": "billing", "Authorization": "Bearer x"},
		RateLimit: 25,
		Metadata:  json.RawMessage(`{"owner":"ops","n":1.50}`),
		CreatedAt: t0,
	}
}

func sameEndpoint(t *testing.T, what string, got, want *store.Endpoint) {
	t.Helper()
	if got.ID != want.ID || got.TenantID != want.TenantID || got.URL != want.URL ||
		got.Description != want.Description || !reflect.DeepEqual(got.Events, want.Events) ||
		got.Format != want.Format || got.Secret != want.Secret ||
		got.Enabled != want.Enabled || !reflect.DeepEqual(got.Headers, want.Headers) ||
		got.RateLimit != want.RateLimit || string(got.Metadata) != string(want.Metadata) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
	samePreviousSecrets(t, what, got.PreviousSecrets, want.PreviousSecrets)
}

// samePreviousSecrets compares replaced secrets as a store returns them:
// in order, times in microseconds, an unknown replacement time zero.
func samePreviousSecrets(t *testing.T, what string, got, want []store.PreviousSecret) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d previous secrets %+v, want %d %+v", what, len(got), got, len(want), want)
		return
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Secret != w.Secret || !g.ExpiresAt.Equal(us(w.ExpiresAt)) || g.ExpiresAt.Location() != time.UTC ||
			!g.ReplacedAt.Equal(us(w.ReplacedAt)) || g.ReplacedAt.IsZero() != w.ReplacedAt.IsZero() {
			t.Errorf("%s: previous secret %d = %+v, want %+v", what, i, g, w)
		}
	}
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
	sameEndpoint(t, "EndpointCreate", got, &want)
	sameTime(t, "endpoint CreatedAt", got.CreatedAt, us(t0))

	read := do(st.EndpointGet(ctx, "acme", got.ID)).must(t)
	sameEndpoint(t, "EndpointGet", read, &want)
	sameTime(t, "endpoint CreatedAt read back", read.CreatedAt, us(t0))

	// Empty optional fields come back empty, not null.
	bare := do(st.EndpointCreate(ctx, &store.Endpoint{TenantID: "acme", URL: "https://x.example", Events: []string{"*"}})).must(t)
	if bare.Headers == nil || len(bare.Headers) != 0 || string(bare.Metadata) != "{}" || len(bare.PreviousSecrets) != 0 || bare.Enabled {
		t.Errorf("bare endpoint = %+v, want empty headers, {} metadata, no previous secrets, disabled", bare)
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
	ep.PreviousSecrets = []store.PreviousSecret{{Secret: "whsec_new", ReplacedAt: t0.Add(time.Hour), ExpiresAt: t0.Add(2 * time.Hour)}}
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
	_, err = st.ReplayCreate(ctx, &store.Replay{TenantID: "b", EndpointID: epA.ID, Since: t0.Add(-time.Hour), Until: t0.Add(time.Hour), DeliveryStatus: store.StatusFailed})
	wantErr(t, err, store.ErrNotFound, "tenant b replaying a's endpoint")
	r := mkReplay(t, st, "a", epA.ID, t0.Add(-time.Hour), t0.Add(time.Hour), "", t0)
	_, err = st.ReplayGet(ctx, "b", r.ID)
	wantErr(t, err, store.ErrNotFound, "tenant b getting a's replay")
	if list := do(st.ReplayList(ctx, "b", &store.ReplayListParams{})).must(t); len(list) != 0 {
		t.Errorf("tenant b lists %d replays, want none of a's", len(list))
	}
	_, err = st.EventCreate(ctx, &store.EventCreateParams{Event: newEvent("b", "", "x", "{}"), EndpointIDs: []string{epA.ID}, Now: t0})
	wantErr(t, err, store.ErrNotFound, "tenant b sending to a's endpoint")

	if got := do(st.EndpointGet(ctx, "a", epA.ID)).must(t); got.URL != epA.URL {
		t.Errorf("a's endpoint URL = %q after b's attempts, want %q", got.URL, epA.URL)
	}
}

func testEndpointDeleteKeepsDeliveries(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	gone := mkEndpoint(t, st, "acme")
	kept := mkEndpoint(t, st, "acme")
	// A delivered-to-and-failed event, and one still waiting, at both.
	failed := mkEvent(t, st, "acme", "user.created", t0)
	for _, c := range claim(t, st, "w", t0, 10, 10) {
		record(t, st, "w", c.Delivery.ID, store.StatusFailed, t0, nil)
	}
	waiting := mkEvent(t, st, "acme", "user.updated", t0.Add(time.Second))
	// And one to the deleted endpoint alone, in flight when it goes.
	inFlight := do(st.EventCreate(ctx, &store.EventCreateParams{
		Event: newEvent("acme", "", "user.flying", `{}`), EndpointIDs: []string{gone.ID}, Now: t0.Add(2 * time.Second),
	})).must(t).Deliveries[0]
	now := t0.Add(3 * time.Second)
	var leased bool
	for _, c := range claim(t, st, "w2", now, 10, 10) {
		leased = leased || c.Delivery.ID == inFlight.ID
		if c.Delivery.ID != inFlight.ID {
			do(st.DeliveryRelease(ctx, c.Delivery.ID, "w2", now), nil).must(t)
		}
	}
	if !leased {
		t.Fatalf("the in-flight delivery %s was not claimed", inFlight.ID)
	}

	if err := st.EndpointDelete(ctx, "acme", gone.ID); err != nil {
		t.Fatalf("EndpointDelete: %v", err)
	}

	// Gone for every endpoint method.
	_, err := st.EndpointGet(ctx, "acme", gone.ID)
	wantErr(t, err, store.ErrNotFound, "EndpointGet after delete")
	if list := do(st.EndpointList(ctx, "acme", &store.ListParams{})).must(t); len(list) != 1 || list[0].ID != kept.ID {
		t.Errorf("EndpointList after delete = %v, want only %s", ids(list, func(e *store.Endpoint) string { return e.ID }), kept.ID)
	}
	if list := do(st.EndpointListByFormat(ctx, "standard-webhooks")).must(t); len(list) != 0 {
		t.Errorf("EndpointListByFormat lists %d endpoints, want none (the live one has no format)", len(list))
	}
	revived := *gone
	revived.URL = "https://back.example"
	_, err = st.EndpointUpdate(ctx, &revived)
	wantErr(t, err, store.ErrNotFound, "EndpointUpdate of a deleted endpoint")
	wantErr(t, st.EndpointDelete(ctx, "acme", gone.ID), store.ErrNotFound, "EndpointDelete twice")
	_, err = st.ReplayCreate(ctx, &store.Replay{TenantID: "acme", EndpointID: gone.ID, Since: t0.Add(-time.Hour), Until: t0.Add(time.Hour), DeliveryStatus: store.StatusFailed})
	wantErr(t, err, store.ErrNotFound, "ReplayCreate of a deleted endpoint")
	_, err = st.EventCreate(ctx, &store.EventCreateParams{Event: newEvent("acme", "", "x", `{}`), EndpointIDs: []string{gone.ID}, Now: now})
	wantErr(t, err, store.ErrNotFound, "a test send to a deleted endpoint")
	// New events no longer match it.
	if after := mkEvent(t, st, "acme", "user.created", now); len(after.Deliveries) != 1 || after.Deliveries[0].EndpointID != kept.ID {
		t.Errorf("an event after the delete made deliveries %+v, want one, to %s", after.Deliveries, kept.ID)
	}

	// Its deliveries stay, marked, with their attempts; those that were
	// waiting have failed unsent.
	for _, ev := range []*store.EventCreateResult{failed, waiting} {
		for _, d := range ev.Deliveries {
			got, err := st.DeliveryGet(ctx, "acme", d.ID)
			if err != nil {
				t.Fatalf("DeliveryGet %s after its endpoint was deleted: %v", d.ID, err)
			}
			atts := do(st.DeliveryAttempts(ctx, d.ID)).must(t)
			wantAtts := 0
			if ev == failed {
				wantAtts = 1
			}
			if len(atts) != wantAtts {
				t.Errorf("delivery %s: %d attempts, want %d", d.ID, len(atts), wantAtts)
			}
			switch {
			case d.EndpointID == kept.ID && got.EndpointDeleted:
				t.Errorf("delivery %s to the kept endpoint says its endpoint was deleted", d.ID)
			case d.EndpointID == gone.ID && !got.EndpointDeleted:
				t.Errorf("delivery %s to the deleted endpoint: EndpointDeleted false", d.ID)
			case d.EndpointID == gone.ID && (got.Status != store.StatusFailed || got.NextAttemptAt != nil):
				t.Errorf("delivery %s to the deleted endpoint: %s, next %v; want failed, nothing due", d.ID, got.Status, got.NextAttemptAt)
			case d.EndpointID == gone.ID && ev == waiting && got.LastError != store.EndpointDeletedError:
				t.Errorf("waiting delivery %s: last error %q, want %q", d.ID, got.LastError, store.EndpointDeletedError)
			case d.EndpointID == kept.ID && ev == waiting && got.Status != store.StatusPending:
				t.Errorf("waiting delivery %s to the kept endpoint: %s, want pending", d.ID, got.Status)
			}
			if d.EndpointID == gone.ID {
				_, err := st.DeliveryRetry(ctx, "acme", d.ID, now)
				wantErr(t, err, store.ErrConflict, "DeliveryRetry of a deleted endpoint's delivery")
			}
		}
	}
	// Listed by endpoint and in the dead-letter view.
	byEp := do(st.DeliveryList(ctx, "acme", &store.DeliveryListParams{EndpointID: gone.ID})).must(t)
	dead := do(st.DeliveryList(ctx, "acme", &store.DeliveryListParams{Status: store.StatusFailed})).must(t)
	if len(byEp) != 3 {
		t.Errorf("DeliveryList of the deleted endpoint: %d deliveries, want 3", len(byEp))
	}
	deadOfGone := 0
	for _, d := range dead {
		if d.EndpointID == gone.ID && d.EndpointDeleted {
			deadOfGone++
		}
	}
	if deadOfGone != 2 { // the in-flight one is still delivering
		t.Errorf("the failed list holds %d of the deleted endpoint's deliveries, marked; want 2", deadOfGone)
	}

	// The attempt in flight is recorded, and its delivery fails rather
	// than wait for a retry no worker will claim.
	next := now.Add(time.Minute)
	record(t, st, "w2", inFlight.ID, store.StatusRetrying, now, &next)
	got := do(st.DeliveryGet(ctx, "acme", inFlight.ID)).must(t)
	if got.Status != store.StatusFailed || got.NextAttemptAt != nil || got.Attempts != 1 || !got.EndpointDeleted {
		t.Errorf("in-flight delivery after its attempt: %+v, want failed with 1 attempt, nothing due, endpoint deleted", got)
	}
	if c := claim(t, st, "w3", next.Add(time.Hour), 10, 10); len(c) != 2 || countBy(c, byEndpoint)[kept.ID] != 2 {
		t.Errorf("claim after the delete: %v, want the kept endpoint's two waiting deliveries only", deliveryIDs(c))
	}
	do(st.EventGet(ctx, "acme", failed.Event.ID)).must(t)
}

// testEndpointDeleteReleased: a delivery handed back (a node shutting
// down) after its endpoint was deleted fails instead of waiting.
func testEndpointDeleteReleased(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	ep := mkEndpoint(t, st, "acme")
	d := mkEvent(t, st, "acme", "user.created", t0).Deliveries[0]
	if c := claim(t, st, "w", t0, 1, 1); len(c) != 1 {
		t.Fatalf("claimed %d, want 1", len(c))
	}
	if err := st.EndpointDelete(ctx, "acme", ep.ID); err != nil {
		t.Fatal(err)
	}
	if err := st.DeliveryRelease(ctx, d.ID, "w", t0); err != nil {
		t.Fatalf("DeliveryRelease: %v", err)
	}
	got := do(st.DeliveryGet(ctx, "acme", d.ID)).must(t)
	if got.Status != store.StatusFailed || got.LastError != store.EndpointDeletedError || got.NextAttemptAt != nil {
		t.Errorf("released delivery of a deleted endpoint: %+v, want failed, %q, nothing due", got, store.EndpointDeletedError)
	}
	if _, err := st.DeliveryNextDue(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeliveryNextDue after it: %v, want ErrNotFound", err)
	}
}
