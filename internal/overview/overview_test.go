package overview_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/overview"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

// now is the test's clock: 12:34:56 UTC, inside its minute and its hour.
var now = time.Date(2030, 6, 7, 12, 34, 56, 0, time.UTC)

// rig makes deliveries that finish when a test says.
type rig struct {
	t  *testing.T
	st store.Store
	n  int
}

// finish makes an event of ep accepted at created whose one delivery ends
// with status at at, and returns the delivery.
func (r *rig) finish(ep *store.Endpoint, created, at time.Time, status string) *store.Delivery {
	r.t.Helper()
	r.n++
	data := fmt.Sprintf(`{"n":%d}`, r.n)
	res, err := r.st.EventCreate(r.t.Context(), &store.EventCreateParams{
		Event: &store.Event{TenantID: ep.TenantID, Type: "order.paid", Data: json.RawMessage(data),
			Hash: store.EventHash("order.paid", []byte(data)), TraceID: "0123456789abcdef0123456789abcdef", Source: store.SourceAPI},
		EndpointIDs: []string{ep.ID}, Now: created, LeaseOwner: "w", LeaseUntil: at.Add(time.Hour),
	})
	if err != nil {
		r.t.Fatal(err)
	}
	d := res.Deliveries[0]
	var next *time.Time
	if status == store.StatusRetrying {
		n := at.Add(time.Hour)
		next = &n
	}
	if _, err := r.st.DeliveryRecordAttempt(r.t.Context(), &store.AttemptRecordParams{
		DeliveryID: d.ID, Owner: "w", Status: status, NextAttemptAt: next, Now: at,
		Attempt: &store.Attempt{StartedAt: at, ResponseCode: 200},
	}); err != nil {
		r.t.Fatal(err)
	}
	return d
}

func TestService_GetCountsEachMinuteAndHourWithLatenciesQueueAndDisabled(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		if _, err := st.TenantCreate(ctx, &store.Tenant{ID: "acme"}); err != nil {
			t.Fatal(err)
		}
		ep, err := st.EndpointCreate(ctx, &store.Endpoint{TenantID: "acme", URL: "https://x.example/", Events: []string{"*"}, Secret: "s", Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		off, err := st.EndpointCreate(ctx, &store.Endpoint{TenantID: "acme", URL: "https://y.example/", Events: []string{"nothing"}, Secret: "s"})
		if err != nil {
			t.Fatal(err)
		}
		r := &rig{t: t, st: st}
		minute := now.Truncate(time.Minute)
		// The current minute: ten delivered, accepted 1 s to 10 s before.
		for i := 1; i <= 10; i++ {
			r.finish(ep, now.Add(-time.Duration(i)*time.Second), now, store.StatusDelivered)
		}
		// Five minutes ago: one failed. The oldest minute of the hour: one
		// delivered 2 minutes after its event.
		r.finish(ep, minute.Add(-5*time.Minute), minute.Add(-5*time.Minute+time.Second), store.StatusFailed)
		r.finish(ep, minute.Add(-61*time.Minute), minute.Add(-59*time.Minute), store.StatusDelivered)
		// Three hours ago, out of the hour: one delivered, one failed.
		r.finish(ep, minute.Add(-3*time.Hour), minute.Add(-3*time.Hour), store.StatusDelivered)
		r.finish(ep, minute.Add(-3*time.Hour), minute.Add(-3*time.Hour), store.StatusFailed)
		// Still waiting: one retrying, one pending.
		r.finish(ep, now, now, store.StatusRetrying)
		if _, err := st.EventCreate(ctx, &store.EventCreateParams{Event: &store.Event{TenantID: "acme", Type: "x", Data: json.RawMessage(`{}`),
			Hash: store.EventHash("x", []byte(`{}`)), TraceID: "0123456789abcdef0123456789abcdef", Source: store.SourceAPI}, Now: now}); err != nil {
			t.Fatal(err)
		}

		svc := overview.NewService(&service.Base{Store: st, Clock: clock.NewFake(now)})
		o, err := svc.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(o.Minutes) != 60 || len(o.Hours) != 24 {
			t.Fatalf("%d minutes and %d hours, want 60 and 24", len(o.Minutes), len(o.Hours))
		}
		if first, last := o.Minutes[0], o.Minutes[59]; !last.Start.Equal(minute) || !last.End.Equal(minute.Add(time.Minute)) || !first.Start.Equal(minute.Add(-59*time.Minute)) {
			t.Errorf("minutes from %v to %v, the last ending %v; want the hour up to the current minute", first.Start, last.Start, last.End)
		}
		if last := o.Hours[23]; !last.Start.Equal(now.Truncate(time.Hour)) || !o.Hours[0].Start.Equal(now.Truncate(time.Hour).Add(-23*time.Hour)) {
			t.Errorf("hours from %v to %v, want the day up to the current hour", o.Hours[0].Start, last.Start)
		}
		want := map[int][2]int{59: {10, 0}, 54: {0, 1}, 0: {1, 0}}
		for i, b := range o.Minutes {
			if w := want[i]; b.Delivered != w[0] || b.Failed != w[1] {
				t.Errorf("minute %d (%v): %d delivered, %d failed; want %v", i, b.Start, b.Delivered, b.Failed, w)
			}
		}
		// The current hour (12:00) has this minute's and 12:29's; 11:00
		// has 11:35's; 09:00 the two of three hours ago.
		wantH := map[int][2]int{23: {10, 1}, 22: {1, 0}, 20: {1, 1}}
		for i, b := range o.Hours {
			if w := wantH[i]; b.Delivered != w[0] || b.Failed != w[1] {
				t.Errorf("hour %d (%v): %d delivered, %d failed; want %v", i, b.Start, b.Delivered, b.Failed, w)
			}
		}
		// Eleven delivered in the hour: 1 s to 10 s and 2 min.
		l := o.Latency
		if l.Delivered != 11 || l.Sampled != 11 || l.P50 != 6*time.Second || l.P90 != 10*time.Second || l.P99 != 2*time.Minute {
			t.Errorf("latency %+v, want 11 of 11, p50 6s, p90 10s, p99 2m", l)
		}
		if q := o.Queue; q[store.StatusPending] != 1 || q[store.StatusRetrying] != 1 || q[store.StatusDelivering] != 0 {
			t.Errorf("queue %v, want one pending and one retrying", q)
		}
		if o.DisabledCount != 1 || len(o.Disabled) != 1 || o.Disabled[0].ID != off.ID {
			t.Errorf("disabled: %d, %v; want %s", o.DisabledCount, o.Disabled, off.ID)
		}
	})
}

func TestPercentile_NearestRank(t *testing.T) {
	t.Parallel()
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {90, 90 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0, time.Millisecond}} {
		if got := overview.Percentile(ds, tc.p); got != tc.want {
			t.Errorf("p%v of 1..100 ms = %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := overview.Percentile([]time.Duration{7 * time.Second}, 99); got != 7*time.Second {
		t.Errorf("p99 of one = %v, want it", got)
	}
	if got := overview.Percentile(nil, 50); got != 0 {
		t.Errorf("p50 of none = %v, want 0", got)
	}
	if ds[0] != 100*time.Millisecond {
		t.Error("Percentile sorted its argument")
	}
}

// An overview read is kept CacheTTL: within it the same figures, after it
// the new ones.
func TestService_GetKeepsWhatItReadForCacheTTL(t *testing.T) {
	t.Parallel()
	st := dbtest.SQLite(t)
	clk := clock.NewFake(now)
	svc := overview.NewService(&service.Base{Store: st, Clock: clk})
	first, err := svc.Get(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.TenantCreate(t.Context(), &store.Tenant{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.EndpointCreate(t.Context(), &store.Endpoint{TenantID: "acme", URL: "https://x.example/", Events: []string{"*"}, Secret: "s"}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(overview.CacheTTL - time.Second)
	if again, err := svc.Get(t.Context()); err != nil || again != first {
		t.Fatalf("within the TTL: %+v, %v; want the overview read before", again, err)
	}
	clk.Advance(time.Second)
	later, err := svc.Get(t.Context())
	if err != nil || later.DisabledCount != 1 || !later.At.Equal(now.Add(overview.CacheTTL)) {
		t.Fatalf("after the TTL: %+v, %v; want a new read, with the disabled endpoint", later, err)
	}
}
