package app_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

// The whole server runs on one injected clock: the event's time, the retry
// it schedules and the engine's wait for it are all the fake's, so a retry
// five minutes out happens as soon as the test moves the clock, and not
// before.
func TestMain_RunsOnTheInjectedClock(t *testing.T) {
	t.Parallel()
	for _, db := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite:" + dbtest.SQLitePath(t) }},
		{"postgres", func(t *testing.T) string { return dbtest.PostgresURL(t) }},
	} {
		t.Run(db.name, func(t *testing.T) {
			t.Parallel()
			start := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
			fake := clock.NewFake(start)
			var mu sync.Mutex
			var arrivals []time.Time
			rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				arrivals = append(arrivals, fake.Now())
				if len(arrivals) == 1 {
					w.WriteHeader(http.StatusInternalServerError)
					return
				}
				w.WriteHeader(http.StatusNoContent)
			}))
			defer rc.Close()
			got := func() []time.Time {
				mu.Lock()
				defer mu.Unlock()
				return append([]time.Time(nil), arrivals...)
			}

			l, _ := runServer(t, &app.Config{DatabaseURL: db.url(t), AllowPrivateDestinations: true, Clock: fake}, nil)
			l.must(201, "POST", "/api/v1/tenants", map[string]any{"id": "acme", "name": "Acme"})
			l.must(201, "PUT", "/api/v1/formats/slow-retry", map[string]any{
				"name": "slow-retry", "signature": map[string]any{"scheme": "standard-webhooks"},
				"retry": map[string]any{"schedule": []string{"5m"}, "on": "5xx"},
			})
			l.must(201, "POST", "/api/v1/tenants/acme/endpoints", map[string]any{
				"url": rc.URL + "/hook", "events": []string{"*"}, "format": "slow-retry",
			})
			ev := l.must(202, "POST", "/api/v1/tenants/acme/events", map[string]any{"type": "user.created", "data": map[string]any{"n": 1}})
			if ev["created_at"] != start.Format(time.RFC3339Nano) && ev["created_at"] != start.Format(time.RFC3339) {
				t.Fatalf("event created_at = %v, want the fake clock's %s", ev["created_at"], start.Format(time.RFC3339))
			}

			waitFor(t, "the first attempt", func() bool { return len(got()) == 1 })
			// Recorded, too: until then the delivery is leased for 30s of
			// the fake clock, and a move past that would let it be claimed
			// again (by this node's next claim) before its record.
			d := deliveryOf(t, l, ev["id"].(string))
			waitDelivery(t, l, d["id"].(string), 10*time.Second, statusIs("retrying"))
			// Four minutes on, the retry (5m plus up to 10% jitter) is not due.
			fake.Advance(4 * time.Minute)
			time.Sleep(200 * time.Millisecond)
			if n := len(got()); n != 1 {
				t.Fatalf("%d attempts four minutes after a failure with a 5m retry, want 1", n)
			}
			// Past 5m30s it is, and the engine's timer is on the same clock.
			// The engine sets its next timer at its own pace, maybe after
			// this move: nudge the clock on by the poll interval until it
			// has one to fire.
			fake.Advance(2 * time.Minute)
			waitFor(t, "the retry", func() bool {
				if len(got()) == 2 {
					return true
				}
				fake.Advance(5 * time.Second)
				return false
			})
			if at := got()[1]; at.Before(start.Add(5 * time.Minute)) {
				t.Fatalf("retry sent at %s, before the 5m schedule (first attempt at %s)", at, start)
			}
		})
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
