package client_test

import (
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
)

// A replay sends again what failed, of the types asked for, and is read
// back with its progress, alone and in the lists.
func TestReplays_StartGetAndList(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ctx := t.Context()
	rcv := newReceiver(t, 500)
	format := oneShotFormat(t, s.c)
	if _, err := s.c.Tenants.Create(ctx, &client.TenantCreateParams{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	ep, err := s.c.Endpoints.Create(ctx, "acme", &client.EndpointCreateParams{URL: rcv.URL, Format: format})
	if err != nil {
		t.Fatal(err)
	}
	since := time.Now().Add(-time.Minute)
	for _, typ := range []string{"order.paid", "user.created"} {
		if _, err := s.c.Events.Send(ctx, "acme", &client.EventSendParams{Type: typ, Data: map[string]any{}}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "both failed", func() bool {
		p, err := s.c.Deliveries.List(ctx, "acme", &client.DeliveryListParams{Status: client.StatusFailed})
		if err != nil {
			t.Fatal(err)
		}
		return len(p.Data) == 2
	})
	rcv.status.Store(200)
	r, err := s.c.Endpoints.Replay(ctx, "acme", ep.ID, &client.ReplayParams{Since: since, EventType: "order.*"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != client.ReplayDone || r.Queued != 1 || r.Scanned != 2 || r.Filters.Status != client.StatusFailed ||
		r.Filters.EventType == nil || *r.Filters.EventType != "order.*" || r.EndpointID != ep.ID || r.FinishedAt == nil {
		t.Fatalf("Replay = %+v, want done, the one order of the two failed queued", r)
	}
	got, err := s.c.Replays.Get(ctx, "acme", r.ID)
	if err != nil || got.ID != r.ID || got.Queued != 1 {
		t.Fatalf("Replays.Get = %+v, %v", got, err)
	}
	p, err := s.c.Replays.List(ctx, "acme", &client.ReplayListParams{Endpoint: ep.ID})
	if err != nil || len(p.Data) != 1 || p.Data[0].ID != r.ID {
		t.Fatalf("Replays.List of the endpoint = %+v, %v", p, err)
	}
	n := 0
	for rp, err := range s.c.Replays.All(ctx, "acme", nil) {
		if err != nil || rp.ID != r.ID {
			t.Fatalf("Replays.All: %+v, %v", rp, err)
		}
		n++
	}
	if n != 1 {
		t.Fatalf("Replays.All gave %d, want 1", n)
	}
	if _, err := s.c.Replays.Get(ctx, "acme", ""); err == nil {
		t.Error("Replays.Get of an empty id: no error")
	}
}
