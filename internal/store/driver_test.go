package store_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/heraldhq/herald/internal/store"
)

var (
	now    = time.Date(2025, 3, 4, 5, 6, 7, 891234000, time.UTC)
	ist    = time.FixedZone("IST", 5*3600+1800)
	sub    = time.Date(2025, 3, 4, 10, 36, 7, 123456789, ist) // sub-microsecond, not UTC
	subUTC = time.Date(2025, 3, 4, 5, 6, 7, 123456000, time.UTC)
)

// idTime is the time in the ULID of a prefixed id, checking the prefix.
func idTime(t *testing.T, id, prefix string) time.Time {
	t.Helper()
	rest, ok := strings.CutPrefix(id, prefix+"_")
	if !ok {
		t.Fatalf("id %q: want prefix %q", id, prefix+"_")
	}
	u, err := ulid.ParseStrict(rest)
	if err != nil {
		t.Fatalf("id %q: %v, want a ULID after the prefix", id, err)
	}
	return ulid.Time(u.Time()).UTC()
}

func TestTimestamp(t *testing.T) {
	t.Parallel()
	got := store.Timestamp(sub)
	if !got.Equal(subUTC) || got.Location() != time.UTC {
		t.Errorf("Timestamp(%v) = %v, want %v: UTC, whole microseconds", sub, got, subUTC)
	}
}

func TestDeliveryClaimParams_Validate(t *testing.T) {
	t.Parallel()
	ok := store.DeliveryClaimParams{Owner: "w", Now: now, Lease: time.Minute, Limit: 10, PerEndpoint: 2}
	if err := ok.Validate(); err != nil {
		t.Errorf("Validate(%+v) = %v, want nil", ok, err)
	}
	for name, change := range map[string]func(p *store.DeliveryClaimParams){
		"no owner":     func(p *store.DeliveryClaimParams) { p.Owner = "" },
		"no lease":     func(p *store.DeliveryClaimParams) { p.Lease = 0 },
		"lease < 0":    func(p *store.DeliveryClaimParams) { p.Lease = -time.Second },
		"no limit":     func(p *store.DeliveryClaimParams) { p.Limit = 0 },
		"no cap":       func(p *store.DeliveryClaimParams) { p.PerEndpoint = 0 },
		"negative cap": func(p *store.DeliveryClaimParams) { p.PerEndpoint = -1 },
	} {
		p := ok
		change(&p)
		if err := p.Validate(); err == nil || !strings.HasPrefix(err.Error(), "claim due deliveries: ") {
			t.Errorf("%s: Validate(%+v) = %v, want a claim due deliveries error", name, p, err)
		}
	}
}

func TestAttemptRecordParams_Validate(t *testing.T) {
	t.Parallel()
	next := now.Add(time.Minute)
	for _, tc := range []struct {
		name    string
		p       store.AttemptRecordParams
		wantErr string // "" for valid
	}{
		{"delivered", store.AttemptRecordParams{DeliveryID: "d", Owner: "w", Attempt: &store.Attempt{}, Status: store.StatusDelivered}, ""},
		{"failed", store.AttemptRecordParams{DeliveryID: "d", Owner: "w", Attempt: &store.Attempt{}, Status: store.StatusFailed}, ""},
		{"retrying", store.AttemptRecordParams{DeliveryID: "d", Owner: "w", Attempt: &store.Attempt{}, Status: store.StatusRetrying, NextAttemptAt: &next}, ""},
		{"no attempt", store.AttemptRecordParams{DeliveryID: "d", Owner: "w", Status: store.StatusDelivered}, "no attempt given"},
		{"no owner", store.AttemptRecordParams{DeliveryID: "d", Attempt: &store.Attempt{}, Status: store.StatusDelivered}, "no lease owner given"},
		{"retrying, no time", store.AttemptRecordParams{DeliveryID: "d", Owner: "w", Attempt: &store.Attempt{}, Status: store.StatusRetrying}, "retrying without a next attempt time"},
		{"pending", store.AttemptRecordParams{DeliveryID: "d", Owner: "w", Attempt: &store.Attempt{}, Status: store.StatusPending}, `status "pending" is not an attempt outcome`},
		{"no status", store.AttemptRecordParams{DeliveryID: "d", Owner: "w", Attempt: &store.Attempt{}}, `status "" is not an attempt outcome`},
	} {
		err := tc.p.Validate()
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: Validate = %v, want nil", tc.name, err)
		case tc.wantErr != "" && (err == nil || err.Error() != `record attempt of delivery "d": `+tc.wantErr):
			t.Errorf("%s: Validate = %v, want %q", tc.name, err, tc.wantErr)
		}
	}
}

func TestAttemptRecordParams_NewAttempt(t *testing.T) {
	t.Parallel()
	given := &store.Attempt{StartedAt: sub, DurationMS: 5, ResponseCode: 200, ResponseBody: "ok", Error: "e"}
	p := &store.AttemptRecordParams{DeliveryID: "dlv_1", Attempt: given}
	a := p.NewAttempt(now)
	want := store.Attempt{ID: a.ID, DeliveryID: "dlv_1", StartedAt: subUTC, DurationMS: 5, ResponseCode: 200, ResponseBody: "ok", Error: "e"}
	if !reflect.DeepEqual(a, want) {
		t.Errorf("NewAttempt = %+v, want %+v", a, want)
	}
	if got := idTime(t, a.ID, "att"); !got.Equal(sub.Truncate(time.Millisecond)) {
		t.Errorf("new id made at %v, want the start %v", got, sub)
	}
	if given.ID != "" || given.DeliveryID != "" || given.StartedAt != sub {
		t.Errorf("NewAttempt changed p.Attempt to %+v, want it untouched", given)
	}

	p.Attempt = &store.Attempt{}
	if got := idTime(t, p.NewAttempt(now).ID, "att"); !got.Equal(now.Truncate(time.Millisecond)) {
		t.Errorf("id of an attempt with no start made at %v, want now %v", got, now)
	}
	p.Attempt = &store.Attempt{ID: "att_given", StartedAt: sub}
	if got := p.NewAttempt(now).ID; got != "att_given" {
		t.Errorf("NewAttempt of an attempt with an id gave id %q, want it kept", got)
	}
}

func TestEventCreateParams_NewEvent(t *testing.T) {
	t.Parallel()
	given := &store.Event{TenantID: "acme", Type: "a.b", Hash: "h", TraceID: "t", Source: store.SourceAPI}
	ev := (&store.EventCreateParams{Event: given}).NewEvent(now)
	if got := idTime(t, ev.ID, "evt"); !got.Equal(now.Truncate(time.Millisecond)) {
		t.Errorf("new id made at %v, want now %v", got, now)
	}
	if !ev.CreatedAt.Equal(now) || ev.Data == nil || len(ev.Data) != 0 {
		t.Errorf("NewEvent of an event with no time or data = created %v, data %#v; want now %v and empty non-nil data", ev.CreatedAt, ev.Data, now)
	}
	if ev.TenantID != "acme" || ev.Type != "a.b" || ev.Hash != "h" || ev.TraceID != "t" || ev.Source != store.SourceAPI {
		t.Errorf("NewEvent = %+v, want the given fields kept", ev)
	}
	if given.ID != "" || given.Data != nil || !given.CreatedAt.IsZero() {
		t.Errorf("NewEvent changed p.Event to %+v, want it untouched", given)
	}

	full := &store.Event{ID: "order-1", CreatedAt: sub, Data: json.RawMessage(`{"a":1}`)}
	ev = (&store.EventCreateParams{Event: full}).NewEvent(now)
	if ev.ID != "order-1" || !ev.CreatedAt.Equal(subUTC) || ev.CreatedAt.Location() != time.UTC || string(ev.Data) != `{"a":1}` {
		t.Errorf("NewEvent = id %q, created %v, data %s; want order-1, %v (UTC, whole microseconds), {\"a\":1}", ev.ID, ev.CreatedAt, ev.Data, subUTC)
	}
}

func TestEventCreateParams_NewDeliveries(t *testing.T) {
	t.Parallel()
	ev := &store.Event{TenantID: "acme", ID: "e1", Type: "a.b"}

	ds, due := (&store.EventCreateParams{}).NewDeliveries(ev, []string{"ep_b", "ep_a"}, now)
	if len(ds) != 2 || !due.Equal(now) {
		t.Fatalf("NewDeliveries of 2 pending = %d deliveries due %v, want 2 due now %v", len(ds), due, now)
	}
	for i, ep := range []string{"ep_b", "ep_a"} {
		d := ds[i]
		want := store.Delivery{ID: d.ID, TenantID: "acme", EventID: "e1", EventType: "a.b", EndpointID: ep,
			Status: store.StatusPending, NextAttemptAt: d.NextAttemptAt, CreatedAt: now, UpdatedAt: now}
		if !reflect.DeepEqual(*d, want) || d.NextAttemptAt == nil || !d.NextAttemptAt.Equal(now) {
			t.Errorf("delivery %d = %+v, want %+v due now", i, *d, want)
		}
		idTime(t, d.ID, "dlv")
	}
	if ds[0].ID == ds[1].ID {
		t.Errorf("both deliveries got id %q, want distinct ids", ds[0].ID)
	}

	leased := &store.EventCreateParams{LeaseOwner: "w", LeaseUntil: sub}
	ds, due = leased.NewDeliveries(ev, []string{"ep_a"}, now)
	if len(ds) != 1 || ds[0].Status != store.StatusDelivering || ds[0].NextAttemptAt != nil || !due.Equal(subUTC) {
		t.Errorf("NewDeliveries leased = %+v due %v, want one delivering with no next attempt, due at the lease expiry %v", ds, due, subUTC)
	}

	if ds, _ := (&store.EventCreateParams{}).NewDeliveries(ev, nil, now); ds != nil {
		t.Errorf("NewDeliveries with no endpoints = %#v, want nil", ds)
	}
}

func TestJSONObject(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		raw  json.RawMessage
		want string
	}{
		{nil, "{}"},
		{json.RawMessage{}, "{}"},
		{json.RawMessage(`{"b": 1, "a": 2.50}`), `{"b": 1, "a": 2.50}`},
	} {
		if got := store.JSONObject(tc.raw); got != tc.want {
			t.Errorf("JSONObject(%q) = %q, want %q", tc.raw, got, tc.want)
		}
	}
}

func TestEndpointJSON_RoundTrip(t *testing.T) {
	t.Parallel()
	for _, e := range []*store.Endpoint{
		{ID: "ep_empty"},
		{
			ID:       "ep_full",
			Events:   []string{"*", "a.*", "a.b"},
			Headers:  map[string]string{"X-B": "2", "X-A": "1"},
			Metadata: json.RawMessage(`{"z": 1, "a": 2.50}`), // kept byte for byte
		},
	} {
		cols := store.NewEndpointJSON(e)
		got := store.Endpoint{ID: e.ID}
		if err := cols.Decode(&got); err != nil {
			t.Fatalf("%s: Decode(%+v) = %v, want nil", e.ID, cols, err)
		}
		wantEvents, wantHeaders, wantMeta := e.Events, e.Headers, string(e.Metadata)
		if wantEvents == nil {
			wantEvents, wantHeaders, wantMeta = []string{}, map[string]string{}, "{}"
		}
		if !reflect.DeepEqual(got.Events, wantEvents) || !reflect.DeepEqual(got.Headers, wantHeaders) || string(got.Metadata) != wantMeta {
			t.Errorf("%s: round trip through %+v gave %#v %#v %s, want %#v %#v %s",
				e.ID, cols, got.Events, got.Headers, got.Metadata, wantEvents, wantHeaders, wantMeta)
		}
	}
	if got := store.NewEndpointJSON(&store.Endpoint{}); got != (store.EndpointJSON{Events: "[]", Headers: "{}", Metadata: "{}"}) {
		t.Errorf("NewEndpointJSON of an empty endpoint = %+v, want [] {} {}", got)
	}
}

func TestEndpointJSON_DecodeRejectsBadColumns(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cols store.EndpointJSON
		want string
	}{
		{store.EndpointJSON{Events: `{}`, Headers: `{}`, Metadata: `{}`}, "endpoint ep_1: events column: "},
		{store.EndpointJSON{Events: `[]`, Headers: `[1]`, Metadata: `{}`}, "endpoint ep_1: headers column: "},
	} {
		err := tc.cols.Decode(&store.Endpoint{ID: "ep_1"})
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Decode(%+v) = %v, want an error starting %q", tc.cols, err, tc.want)
		}
	}
	if _, err := store.DecodeFilters("ep_1", "not json"); err == nil || !strings.HasPrefix(err.Error(), "endpoint ep_1: events column: ") {
		t.Errorf("DecodeFilters of bad JSON = %v, want an events column error", err)
	}
	if got, err := store.DecodeFilters("ep_1", `["a.*"]`); err != nil || !reflect.DeepEqual(got, []string{"a.*"}) {
		t.Errorf(`DecodeFilters(["a.*"]) = %q, %v; want [a.*]`, got, err)
	}
}
