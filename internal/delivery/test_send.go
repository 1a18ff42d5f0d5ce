package delivery

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/heraldhq/herald"

	"github.com/heraldhq/herald/internal/id"
	"github.com/heraldhq/herald/internal/jsonstyle"
	"github.com/heraldhq/herald/internal/store"
)

// TestParams is what a test send sends instead of the format's test
// event; the zero value (or nil) changes nothing.
type TestParams struct {
	// Type is the event's type; "" means the format's test event type.
	Type string
	// Data is the event's data, a JSON object in the canonical compact
	// form events are stored in (as the event service's CheckTest returns
	// it); nil means Herald's test data.
	Data []byte
}

// Test sends the endpoint's format's test event to that endpoint now, once,
// and reports what the receiver answered (POST .../endpoints/{id}/test).
//
// It counts as one of the node's attempts in flight, as a worker's does:
// against the endpoint's cap, the tenant's share and the workers, shown in
// the in-flight metric, and ahead of the claimed deliveries waiting for a
// place. With no place within Config.TestWait the error is a herald.ErrBusy
// naming the cap, and nothing is stored. It ends with its request: when ctx
// ends first, the attempt is cut off and the delivery fails, never handed
// back to be sent as an ordinary delivery. The delivery is created already
// leased to this engine, so no worker takes it, and it is logged like any
// other. The engine must be running (Run); a Test that finds it stopped,
// or not started within TestWait, is a herald.ErrUnavailable.
func (e *Engine) Test(ctx context.Context, tenantID, endpointID string) (*TestResult, error) {
	return e.TestWith(ctx, tenantID, endpointID, nil)
}

// TestWith is Test of the event type and data p gives, each in place of
// the test event's own.
func (e *Engine) TestWith(ctx context.Context, tenantID, endpointID string, p *TestParams) (*TestResult, error) {
	if p == nil {
		p = &TestParams{}
	}
	ep, err := e.st.EndpointGet(ctx, tenantID, endpointID)
	if err != nil {
		return nil, fmt.Errorf("test endpoint: %w", err)
	}
	f, err := e.cfg.Formats.Get(ctx, ep.Format)
	if err != nil {
		return nil, fmt.Errorf("test endpoint %s: %w", ep.ID, err)
	}
	// The rate limit's turn, then a place, both before anything is stored:
	// a caller that gives up meanwhile leaves nothing behind, and a test
	// never holds a place while it waits for its turn.
	if err := e.waitTurn(ctx, ep); err != nil {
		return nil, fmt.Errorf("test send to %s interrupted: %w", ep.ID, err)
	}
	leave, err := e.admitTest(ctx, ep)
	if err != nil {
		return nil, err
	}
	defer leave()

	typ, data := cmp.Or(p.Type, f.TestEventType()), p.Data
	if data == nil {
		b, err := json.Marshal(struct {
			EndpointID string `json:"endpoint_id"`
			Message    string `json:"message"`
		}{ep.ID, "This is a test event from Herald. If you can read this, your endpoint receives webhooks."})
		if err != nil {
			return nil, fmt.Errorf("test event data: %w", err)
		}
		data = canonical(b)
	}
	now := e.now()
	ev := &store.Event{
		TenantID: tenantID, ID: id.NewAt(id.Event, now), Type: typ,
		Data: data, TraceID: id.NewTraceID(), Source: store.SourceTest, CreatedAt: now,
	}
	ev.Hash = store.EventHash(ev.Type, ev.Data)
	res, err := e.st.EventCreate(ctx, &store.EventCreateParams{
		Event: ev, EndpointIDs: []string{ep.ID}, Now: now,
		LeaseOwner: e.owner, LeaseUntil: now.Add(e.cfg.Lease),
	})
	if err != nil {
		return nil, fmt.Errorf("store test event: %w", err)
	}
	if len(res.Deliveries) != 1 {
		return nil, fmt.Errorf("test event made %d deliveries, want 1", len(res.Deliveries))
	}
	d := res.Deliveries[0]
	e.track(d.ID)
	defer e.untrack(d.ID)
	c := &store.Claimed{Delivery: d, Event: res.Event, Endpoint: ep, LeaseUntil: now.Add(e.cfg.Lease)}
	// The caller waits for its answer: the attempt is recorded at once, in
	// a batch of its own, not in the engine's batches.
	var att *store.Attempt
	e.attempt(ctx, c, onlyOnce, func(cp *completion) {
		res, err := e.record(context.WithoutCancel(ctx), []*store.AttemptRecordParams{cp.p})
		if err != nil {
			cp.done(nil, err)
			return
		}
		cp.done(res[0].Attempt, res[0].Err)
	}, func(a *store.Attempt) { att = a })
	if att == nil {
		return nil, fmt.Errorf("test send of %s interrupted: %w", d.ID, ctx.Err())
	}
	out := &TestResult{
		DeliveryID: d.ID, Status: store.StatusFailed, ResponseCode: att.ResponseCode,
		ResponseBody: att.ResponseBody, DurationMS: att.DurationMS, Error: att.Error,
	}
	if att.ResponseCode >= 200 && att.ResponseCode < 300 {
		out.Status = store.StatusDelivered
	}
	return out, nil
}

// admitTest waits for the engine to run, then for a place for a test send
// to ep among the attempts in flight (dispatcher.admit), each for up to
// Config.TestWait.
func (e *Engine) admitTest(ctx context.Context, ep *store.Endpoint) (leave func(), err error) {
	timer := e.clock.NewTimer(e.cfg.TestWait)
	defer timer.Stop()
	select {
	case <-e.started:
	case <-ctx.Done():
		return nil, fmt.Errorf("test send to %s interrupted: %w", ep.ID, ctx.Err())
	case <-timer.C():
	}
	e.handMu.Lock()
	disp := e.disp
	e.handMu.Unlock()
	if disp == nil {
		return nil, herald.Errorf(herald.ErrUnavailable, "the delivery engine is not running; try again in a moment")
	}
	leave, err = disp.admit(ctx, ep, ep.TenantID, e.cfg.TestWait)
	switch {
	case errors.Is(err, errStopped):
		return nil, herald.Errorf(herald.ErrUnavailable, "the delivery engine is stopping; try again in a moment")
	case err != nil:
		return nil, fmt.Errorf("test send to %s: %w", ep.ID, err)
	}
	return leave, nil
}

// canonical rewrites JSON Herald made itself in the compact style events
// are stored in.
func canonical(b []byte) []byte {
	v, err := jsonstyle.Parse(b)
	if err != nil {
		panic(fmt.Sprintf("delivery: own JSON does not parse: %v", err))
	}
	return jsonstyle.Marshal(v, jsonstyle.Compact)
}
