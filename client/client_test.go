package client_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
)

// A producer's whole path: send an event, get it back with its data exact,
// send it again under its id (a duplicate, nothing new), and send another
// event under the same id (a conflict, with the server's problem details).
func TestEvents_SendIsIdempotentByIDAndKeepsDataExact(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ctx := t.Context()
	rcv := newReceiver(t, 204)
	tenantWithEndpoint(t, s.c, "acme", rcv.URL)

	data := json.RawMessage(`{"id":"usr_1","balance":12345678901234567890.50}`)
	ev := &client.EventSendParams{Type: "user.created", Data: data, ID: "user-created-usr_1"}
	got, err := s.c.Events.Send(ctx, "acme", ev)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "user-created-usr_1" || got.Type != "user.created" || got.Deliveries != 1 || got.Duplicate || got.CreatedAt.IsZero() {
		t.Errorf("Send = %+v, want the new event with 1 delivery, not a duplicate", got)
	}
	stored, err := s.c.Events.Get(ctx, "acme", got.ID)
	if err != nil {
		t.Fatal(err)
	}
	if string(stored.Data) != string(data) || stored.Source != "api" {
		t.Errorf("Get: data %s source %q, want %s from the api", stored.Data, stored.Source, data)
	}

	again, err := s.c.Events.Send(ctx, "acme", ev)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Duplicate || again.ID != got.ID || !again.CreatedAt.Equal(got.CreatedAt) {
		t.Errorf("the same event again = %+v, want the stored one marked Duplicate", again)
	}

	_, err = s.c.Events.Send(ctx, "acme", &client.EventSendParams{Type: "user.created", Data: map[string]any{"id": "usr_2"}, ID: got.ID})
	var herr *client.Error
	if !errors.As(err, &herr) || !errors.Is(err, client.ErrConflict) || errors.Is(err, client.ErrInvalid) {
		t.Fatalf("another event under a used id: %v, want a *client.Error that is ErrConflict only", err)
	}
	if herr.StatusCode != 409 || herr.Title != "Conflict" || !strings.Contains(herr.Detail, got.ID) || herr.RequestID == "" {
		t.Errorf("the conflict = %+v, want 409 Conflict, a detail naming the id and the request id", herr)
	}
	if herr.Error() != "409 Conflict: "+herr.Detail {
		t.Errorf("Error() = %q", herr.Error())
	}

	// A list leaves out the data of a large event unless asked for it.
	large := json.RawMessage(`{"blob":"` + strings.Repeat("x", 70<<10) + `"}`)
	if _, err := s.c.Events.Send(ctx, "acme", &client.EventSendParams{Type: "file.uploaded", Data: large, ID: "large"}); err != nil {
		t.Fatal(err)
	}
	for _, all := range []bool{false, true} {
		p, err := s.c.Events.List(ctx, "acme", &client.EventListParams{Type: "file.uploaded", IncludeData: all})
		if err != nil || len(p.Data) != 1 {
			t.Fatalf("Events.List: %+v, %v", p, err)
		}
		e := p.Data[0]
		if e.DataTruncated == all || e.DataBytes != len(large) || (string(e.Data) == string(large)) != all {
			t.Errorf("IncludeData %v: truncated %v, %d bytes, data of %d bytes", all, e.DataTruncated, e.DataBytes, len(e.Data))
		}
	}

	// Data as bytes is sent as it is, not base64.
	b, err := s.c.Events.Send(ctx, "acme", &client.EventSendParams{Type: "user.deleted", Data: []byte(`{"id":"usr_1"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if e, err := s.c.Events.Get(ctx, "acme", b.ID); err != nil || string(e.Data) != `{"id":"usr_1"}` {
		t.Errorf("data sent as []byte came back as %s, %v", e.Data, err)
	}
}

// An invalid request is an *Error that names every field at fault, as the
// server's problem details do; the other kinds match their statuses.
func TestError_CarriesTheProblemDetails(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ctx := t.Context()
	if _, err := s.c.Tenants.Create(ctx, &client.TenantCreateParams{ID: "acme"}); err != nil {
		t.Fatal(err)
	}

	_, err := s.c.Endpoints.Create(ctx, "acme", &client.EndpointCreateParams{URL: "ftp://example.com", Events: []string{"user.*", "bad type!"}})
	var herr *client.Error
	if !errors.As(err, &herr) || !errors.Is(err, client.ErrInvalid) {
		t.Fatalf("an endpoint with a bad URL and filter: %v, want ErrInvalid", err)
	}
	var locs []string
	for _, f := range herr.Errors {
		if f.Message == "" {
			t.Errorf("field error %+v has no message", f)
		}
		locs = append(locs, f.Location)
	}
	if !slices.Contains(locs, "body.url") || !slices.Contains(locs, "body.events[1]") {
		t.Errorf("field errors at %v, want body.url and body.events[1]", locs)
	}

	if _, err := s.c.Tenants.Get(ctx, "nobody"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("a missing tenant: %v, want ErrNotFound", err)
	}
	if _, err := s.client(t, "hk_not_a_key_of_this_server_0000000000000000").Tenants.List(ctx, nil); !errors.Is(err, client.ErrUnauthorized) {
		t.Errorf("an unknown key: %v, want ErrUnauthorized", err)
	}
	k, err := s.c.Keys.Create(ctx, &client.KeyCreateParams{Tenant: "acme", Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(k.Key, "hk_") || k.TenantID != "acme" || k.Name != "ci" {
		t.Fatalf("Keys.Create = %+v, want a tenant key of acme named ci", k)
	}
	tc := s.client(t, k.Key)
	if _, err := tc.Tenants.List(ctx, nil); !errors.Is(err, client.ErrForbidden) {
		t.Errorf("a tenant key listing tenants: %v, want ErrForbidden", err)
	}
	if got, err := tc.Tenants.Get(ctx, "acme"); err != nil || got.ID != "acme" {
		t.Errorf("a tenant key reading its tenant: %+v, %v", got, err)
	}
}

// An answer that is not problem details (a proxy's error page) is still
// an *Error, with the status and the start of the text.
func TestError_FromAnAnswerThatIsNotProblemDetails(t *testing.T) {
	t.Parallel()
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprint(w, "<html>\n<body>502 Bad Gateway</body>\n</html>")
	}))
	defer proxy.Close()
	c, err := client.New(proxy.URL, adminKey)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Tenants.Get(t.Context(), "acme")
	var herr *client.Error
	if !errors.As(err, &herr) || !errors.Is(err, client.ErrServer) {
		t.Fatalf("a 502 page: %v, want an *Error that is ErrServer", err)
	}
	if herr.StatusCode != 502 || herr.Detail != "<html> <body>502 Bad Gateway</body> </html>" || herr.RetryAfter.Seconds() != 7 {
		t.Errorf("the 502 = %+v", herr)
	}
	if herr.Error() != "502 Bad Gateway: <html> <body>502 Bad Gateway</body> </html>" {
		t.Errorf("Error() = %q", herr.Error())
	}
}

// All follows next_cursor page by page, newest first, and stops fetching
// when the loop breaks.
func TestAll_FollowsTheCursorsAndStopsOnBreak(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ctx := t.Context()
	var want []string
	for i := range 7 {
		id := fmt.Sprintf("t%d", i)
		if _, err := s.c.Tenants.Create(ctx, &client.TenantCreateParams{ID: id, Name: "Tenant " + id}); err != nil {
			t.Fatal(err)
		}
		want = append([]string{id}, want...) // newest first
	}
	var requests atomic.Int32
	c := s.client(t, adminKey, client.WithHTTPClient(&http.Client{Transport: countingTransport{&requests}}))

	var got []string
	for tn, err := range c.Tenants.All(ctx, &client.ListParams{Limit: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, tn.ID)
	}
	if !slices.Equal(got, want) {
		t.Errorf("All = %v, want %v", got, want)
	}
	if n := requests.Load(); n != 4 {
		t.Errorf("All of 7 by 2 made %d requests, want 4", n)
	}

	requests.Store(0)
	for range c.Tenants.All(ctx, &client.ListParams{Limit: 2}) {
		break
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("breaking after the first item made %d requests, want 1", n)
	}

	p, err := c.Tenants.List(ctx, &client.ListParams{Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	last, err := c.Tenants.List(ctx, &client.ListParams{Limit: 5, Cursor: p.NextCursor})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Data) != 5 || p.NextCursor == "" || len(last.Data) != 2 || last.NextCursor != "" {
		t.Errorf("pages of 5: %d items, cursor %q, then %d items, cursor %q; want 5, a cursor, 2, none", len(p.Data), p.NextCursor, len(last.Data), last.NextCursor)
	}

	// An error ends the iteration, yielded once.
	n := 0
	for _, err := range c.Tenants.All(ctx, &client.ListParams{Limit: 999}) {
		n++
		if !errors.Is(err, client.ErrInvalid) {
			t.Errorf("a page size of 999: %v, want ErrInvalid", err)
		}
	}
	if n != 1 {
		t.Errorf("the failing list yielded %d times, want once", n)
	}
}

type countingTransport struct{ n *atomic.Int32 }

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

// Tenants and endpoints through their whole life: create, read, list,
// change, rotate, test, delete.
func TestTenantsAndEndpoints(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ctx := t.Context()
	tn, err := s.c.Tenants.Create(ctx, &client.TenantCreateParams{ID: "acme", Name: "Acme Inc", Metadata: json.RawMessage(`{"plan":"pro"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if tn.ID != "acme" || tn.Name != "Acme Inc" || string(tn.Metadata) != `{"plan":"pro"}` || tn.CreatedAt.IsZero() {
		t.Errorf("Tenants.Create = %+v", tn)
	}
	name := "Acme Corp"
	if tn, err = s.c.Tenants.Update(ctx, "acme", &client.TenantUpdateParams{Name: &name}); err != nil || tn.Name != name || string(tn.Metadata) != `{"plan":"pro"}` {
		t.Errorf("Tenants.Update = %+v, %v; want the new name, the metadata kept", tn, err)
	}
	if _, err := s.c.Tenants.Create(ctx, &client.TenantCreateParams{ID: "acme"}); !errors.Is(err, client.ErrConflict) {
		t.Errorf("the same tenant again: %v, want ErrConflict", err)
	}
	origins := []string{"https://app.acme.example"}
	if tn, err = s.c.Tenants.Update(ctx, "acme", &client.TenantUpdateParams{PortalOrigins: &origins}); err != nil || !slices.Equal(tn.PortalOrigins, origins) {
		t.Errorf("portal origins: %+v, %v", tn, err)
	}
	link, err := s.c.Tenants.PortalLink(ctx, "acme", "10m")
	if err != nil || !strings.HasPrefix(link.URL, "http") || link.ExpiresAt.Before(time.Now().Add(9*time.Minute)) {
		t.Errorf("a portal link: %+v, %v", link, err)
	}
	if _, err := s.c.Tenants.PortalLink(ctx, "acme", "1y"); !errors.Is(err, client.ErrInvalid) {
		t.Errorf("a portal link for a year: %v, want ErrInvalid", err)
	}

	rcv := newReceiver(t, 200)
	ep, err := s.c.Endpoints.Create(ctx, "acme", &client.EndpointCreateParams{
		URL: rcv.URL + "/hooks", Events: []string{"user.*"}, Headers: map[string]string{"X-Team": "growth"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ep.Secret, "whsec_") || ep.Status != "active" || ep.Format != "standard-webhooks" || ep.Headers["X-Team"] != "growth" {
		t.Errorf("Endpoints.Create = %+v", ep)
	}
	got, err := s.c.Endpoints.Get(ctx, "acme", ep.ID)
	if err != nil || got.Secret != "" || got.URL != ep.URL {
		t.Errorf("Endpoints.Get = %+v, %v; want the endpoint without its secret", got, err)
	}
	off := false
	if got, err = s.c.Endpoints.Update(ctx, "acme", ep.ID, &client.EndpointUpdateParams{Enabled: &off}); err != nil || got.Status != "disabled" ||
		got.DisabledReason == nil || *got.DisabledReason != "manual" || got.DisabledAt == nil {
		t.Errorf("disabling: %+v, %v; want it disabled, manual, with its time", got, err)
	}
	// An event for a disabled endpoint makes a failed delivery that says why.
	sent, err := s.c.Events.Send(ctx, "acme", &client.EventSendParams{Type: "user.created", Data: map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	dl, err := s.c.Events.Deliveries(ctx, "acme", sent.ID, nil)
	if err != nil || len(dl.Data) != 1 || dl.Data[0].Status != client.StatusFailed || dl.Data[0].Error == nil || *dl.Data[0].Error != "endpoint_disabled" {
		t.Errorf("the delivery to the disabled endpoint: %+v, %v", dl, err)
	}
	on := true
	if _, err := s.c.Endpoints.Update(ctx, "acme", ep.ID, &client.EndpointUpdateParams{Enabled: &on}); err != nil {
		t.Fatal(err)
	}
	rot, err := s.c.Endpoints.RotateSecret(ctx, "acme", ep.ID, &client.RotateSecretParams{Grace: "1h"})
	if err != nil || rot.Secret == "" || rot.Secret == ep.Secret || len(rot.PreviousSecrets) != 1 ||
		rot.PreviousSecrets[0].ExpiresAt.Before(time.Now().Add(59*time.Minute)) || rot.PreviousSecretExpiresAt == nil {
		t.Errorf("RotateSecret = %+v, %v; want a new secret and the old one signing for an hour", rot, err)
	}
	res, err := s.c.Endpoints.Test(ctx, "acme", ep.ID, nil)
	if err != nil || res.Status != "delivered" || res.ResponseCode != 200 || res.DeliveryID == "" {
		t.Errorf("Endpoints.Test = %+v, %v; want delivered with 200", res, err)
	}
	page, err := s.c.Endpoints.List(ctx, "acme", nil)
	if err != nil || len(page.Data) != 1 || page.Data[0].ID != ep.ID || page.NextCursor != "" {
		t.Errorf("Endpoints.List = %+v, %v", page, err)
	}
	if err := s.c.Endpoints.Delete(ctx, "acme", ep.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.Endpoints.Get(ctx, "acme", ep.ID); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("a deleted endpoint: %v, want ErrNotFound", err)
	}
	if err := s.c.Tenants.Delete(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.Tenants.Get(ctx, "acme"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("a deleted tenant: %v, want ErrNotFound", err)
	}
}

// A delivery that failed is listed under its status, read with its
// attempts, and retried: due again now, it is delivered once the receiver
// is mended.
func TestDeliveries_ListFailedAndRetry(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ctx := t.Context()
	rcv := newReceiver(t, 500)
	format := oneShotFormat(t, s.c)
	if _, err := s.c.Tenants.Create(ctx, &client.TenantCreateParams{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.Endpoints.Create(ctx, "acme", &client.EndpointCreateParams{URL: rcv.URL, Format: format, Events: []string{"order.*"}}); err != nil {
		t.Fatal(err)
	}
	ev, err := s.c.Events.Send(ctx, "acme", &client.EventSendParams{Type: "order.paid", Data: map[string]any{"order": 7}})
	if err != nil {
		t.Fatal(err)
	}
	failed := &client.DeliveryListParams{Status: client.StatusFailed}
	var d client.Delivery
	eventually(t, "failed", func() bool {
		p, err := s.c.Deliveries.List(ctx, "acme", failed)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Data) == 1 {
			d = p.Data[0]
		}

		return len(p.Data) == 1
	})
	if d.EventID != ev.ID || d.LastResponseCode != 500 || d.AttemptCount != 1 || d.Attempts != nil {
		t.Errorf("the failed delivery = %+v, want the event's, one attempt answered 500, no attempts listed", d)
	}
	full, err := s.c.Deliveries.Get(ctx, "acme", d.ID)
	if err != nil || len(full.Attempts) != 1 || full.Attempts[0].ResponseCode != 500 || full.Attempts[0].Number != 1 {
		t.Errorf("Deliveries.Get = %+v, %v; want its one attempt", full, err)
	}
	byEvent, err := s.c.Events.Deliveries(ctx, "acme", ev.ID, nil)
	if err != nil || len(byEvent.Data) != 1 || byEvent.Data[0].ID != d.ID {
		t.Errorf("Events.Deliveries = %+v, %v", byEvent, err)
	}
	if _, err := s.c.Events.Deliveries(ctx, "acme", ev.ID, &client.DeliveryListParams{Endpoint: "ep_x"}); err == nil {
		t.Error("Events.Deliveries with an endpoint filter: no error")
	}

	rcv.status.Store(200)
	again, err := s.c.Deliveries.Retry(ctx, "acme", d.ID)
	if err != nil || again.ID != d.ID || again.Status == client.StatusFailed {
		t.Fatalf("Retry = %+v, %v; want the same delivery, due again", again, err)
	}
	eventually(t, "delivered after the retry", func() bool {
		got, err := s.c.Deliveries.Get(ctx, "acme", d.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Status == client.StatusDelivered
	})
	all := 0
	for dl, err := range s.c.Deliveries.All(ctx, "acme", &client.DeliveryListParams{Status: client.StatusDelivered}) {
		if err != nil || dl.ID != d.ID {
			t.Errorf("Deliveries.All: %+v, %v", dl, err)
		}
		all++
	}
	if all != 1 {
		t.Errorf("Deliveries.All of the delivered gave %d, want 1", all)
	}
}

// New refuses what could never be a Herald server, and a call with an
// empty id is refused before any request, not sent to another route.
func TestNew_AndEmptyIDs(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"", "127.0.0.1:8080", "ftp://h", "http://", "http://u:p@h", "http://h/?x=1", "http://h/#f", "http://h/%zz"} {
		if _, err := client.New(bad, adminKey); err == nil {
			t.Errorf("New(%q): no error", bad)
		}
	}
	if _, err := client.New("http://h", ""); err == nil {
		t.Error("New without a key: no error")
	}
	var requests atomic.Int32
	c, err := client.New("http://127.0.0.1:1/prefix/", adminKey, client.WithHTTPClient(&http.Client{Transport: countingTransport{&requests}}))
	if err != nil {
		t.Fatal(err)
	}
	if c.BaseURL() != "http://127.0.0.1:1/prefix" {
		t.Errorf("BaseURL() = %q", c.BaseURL())
	}
	if _, err := c.Endpoints.Get(t.Context(), "acme", ""); err == nil || !strings.Contains(err.Error(), "/tenants/acme/endpoints/{empty}") {
		t.Errorf("an empty endpoint id: %v, want an error showing where", err)
	}
	if _, err := c.Events.Send(t.Context(), "", &client.EventSendParams{Type: "a"}); err == nil {
		t.Error("an empty tenant: no error")
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests made with empty ids, want none", n)
	}
}

// A server under a path prefix (behind a proxy) is reached there, with
// every segment escaped.
func TestDo_PathPrefixAndEscaping(t *testing.T) {
	t.Parallel()
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.RawPath
		if got == "" {
			got = r.URL.Path
		}
		if r.Header.Get("Authorization") != "Bearer "+adminKey || r.Header.Get("User-Agent") != "acme-producer" {
			t.Errorf("headers %v", r.Header)
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":"a b/c"}`)
	}))
	defer srv.Close()
	c, err := client.New(srv.URL+"/herald", adminKey, client.WithUserAgent("acme-producer"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Events.Get(t.Context(), "a b/c", "evt:1"); err != nil {
		t.Fatal(err)
	}
	if got != "/herald/api/v1/tenants/a%20b%2Fc/events/evt:1" {
		t.Errorf("path %q", got)
	}
}

// A test send of a chosen event; a retrying backlog brought to now once
// the receiver is mended; lists filtered by type and time.
func TestEndpoints_TestSendRetryNowAndListFilters(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ctx := t.Context()
	rcv := newReceiver(t, 503)
	ep := tenantWithEndpoint(t, s.c, "acme", rcv.URL)
	if _, err := s.c.Do(ctx, "PUT", "/event-types/user.created", nil, map[string]any{"schema": map[string]any{"type": "object", "required": []string{"id"}}}, nil); err != nil {
		t.Fatal(err)
	}
	_, err := s.c.Endpoints.Test(ctx, "acme", ep.ID, &client.TestSendParams{Type: "user.created", Data: map[string]any{"name": "no id"}})
	var herr *client.Error
	if !errors.As(err, &herr) || len(herr.Errors) == 0 || !strings.HasPrefix(herr.Errors[0].Location, "body.data") {
		t.Errorf("a test send whose data fails the type's schema: %v, want a 422 at body.data", err)
	}
	res, err := s.c.Endpoints.Test(ctx, "acme", ep.ID, &client.TestSendParams{Type: "user.created", Data: []byte(`{"id":"usr_1"}`)})
	if err != nil || res.Status != client.StatusFailed || res.ResponseCode != 503 {
		t.Fatalf("a test send to a receiver answering 503: %+v, %v", res, err)
	}
	if e, err := s.c.Events.List(ctx, "acme", &client.EventListParams{Type: "user.created"}); err != nil || len(e.Data) != 1 || string(e.Data[0].Data) != `{"id":"usr_1"}` || e.Data[0].Source != "test" {
		t.Errorf("the test event: %+v, %v; want it stored with the data chosen", e, err)
	}

	before := time.Now().Add(-time.Second)
	ev, err := s.c.Events.Send(ctx, "acme", &client.EventSendParams{Type: "order.paid", Data: map[string]any{"order": 1}})
	if err != nil {
		t.Fatal(err)
	}
	var d client.Delivery
	eventually(t, "retrying", func() bool {
		p, err := s.c.Deliveries.List(ctx, "acme", &client.DeliveryListParams{Event: ev.ID, Status: client.StatusRetrying})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Data) == 1 {
			d = p.Data[0]
		}
		return len(p.Data) == 1
	})
	rcv.status.Store(200)
	moved, err := s.c.Endpoints.RetryNow(ctx, "acme", ep.ID)
	if err != nil || moved.Moved != 1 {
		t.Fatalf("RetryNow = %+v, %v; want 1 moved", moved, err)
	}
	eventually(t, "delivered after retry-now", func() bool {
		got, err := s.c.Deliveries.Get(ctx, "acme", d.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Status == client.StatusDelivered
	})

	byType, err := s.c.Deliveries.List(ctx, "acme", &client.DeliveryListParams{EventType: "order.paid", Since: before})
	if err != nil || len(byType.Data) != 1 || byType.Data[0].ID != d.ID {
		t.Errorf("deliveries of order.paid since the send: %+v, %v", byType, err)
	}
	if p, err := s.c.Events.List(ctx, "acme", &client.EventListParams{Until: before}); err != nil || len(p.Data) != 0 {
		t.Errorf("events until before anything was sent: %+v, %v; want none", p, err)
	}
	if p, err := s.c.Events.List(ctx, "acme", &client.EventListParams{Since: before, Type: "order.paid"}); err != nil || len(p.Data) != 1 {
		t.Errorf("events of order.paid since the start: %+v, %v; want 1", p, err)
	}
}

// Keys: an admin key created, listed without its secret, deleted and
// refused from then on; the last admin key cannot be deleted.
func TestKeys_CreateListDelete(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ctx := t.Context()
	k, err := s.c.Keys.Create(ctx, &client.KeyCreateParams{Name: "deploy"})
	if err != nil || !strings.HasPrefix(k.Key, "hk_") || k.TenantID != "" {
		t.Fatalf("an admin key: %+v, %v", k, err)
	}
	deploy := s.client(t, k.Key)
	if _, err := deploy.Tenants.List(ctx, nil); err != nil {
		t.Fatalf("the new admin key: %v", err)
	}
	var ids []string
	for key, err := range s.c.Keys.All(ctx, "", nil) {
		if err != nil {
			t.Fatal(err)
		}
		if key.Key != "" {
			t.Errorf("a listed key shows its secret: %+v", key)
		}
		ids = append(ids, key.ID)
	}
	if len(ids) != 2 || !slices.Contains(ids, k.ID) {
		t.Errorf("admin keys %v, want the server's and %s", ids, k.ID)
	}
	if err := s.c.Keys.Delete(ctx, "", k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := deploy.Tenants.List(ctx, nil); !errors.Is(err, client.ErrUnauthorized) {
		t.Errorf("a deleted key: %v, want ErrUnauthorized", err)
	}
	last := slices.DeleteFunc(ids, func(id string) bool { return id == k.ID })[0]
	if err := s.c.Keys.Delete(ctx, "", last); !errors.Is(err, client.ErrConflict) {
		t.Errorf("deleting the last admin key: %v, want ErrConflict", err)
	}
}
