package app_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

// databases are the databases a test runs on: SQLite always, PostgreSQL
// when HERALD_TEST_DATABASE_URL is set.
var databases = []struct {
	name string
	url  func(t *testing.T) string
}{
	{"sqlite", func(t *testing.T) string { return "sqlite:" + dbtest.SQLitePath(t) }},
	{"postgres", func(t *testing.T) string { return dbtest.PostgresURL(t) }},
}

// A replay sends again what failed, and only that: the delivery retried
// meanwhile, which succeeded, is not sent a third time, and the replay
// shows what it queued.
func TestServe_ReplayResendsOnlyWhatFailed(t *testing.T) {
	t.Parallel()
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			t.Parallel()
			var down atomic.Bool
			down.Store(true)
			rc := newCapture(t, func(int, *captured) int {
				if down.Load() {
					return http.StatusInternalServerError
				}
				return http.StatusNoContent
			})
			l := startLive(t, db.url(t))
			l.must(201, "POST", "/api/v1/tenants", map[string]any{"id": "acme", "name": "Acme"})
			l.must(201, "PUT", "/api/v1/formats/once", map[string]any{
				"name": "once", "signature": map[string]any{"scheme": "standard-webhooks"}, "retry": map[string]any{"schedule": []string{}},
			})
			ep := l.must(201, "POST", "/api/v1/tenants/acme/endpoints", map[string]any{"url": rc.URL, "events": []string{"user.*"}, "format": "once"})
			epID := ep["id"].(string)
			since := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
			var events []string
			for range 3 {
				events = append(events, l.must(202, "POST", "/api/v1/tenants/acme/events", map[string]any{"type": "user.created", "data": map[string]any{}})["id"].(string))
			}
			var dlvs []string
			for _, ev := range events {
				d := deliveryOf(t, l, ev)
				waitDelivery(t, l, d["id"].(string), 10*time.Second, statusIs("failed"))
				dlvs = append(dlvs, d["id"].(string))
			}
			down.Store(false)
			l.must(202, "POST", "/api/v1/tenants/acme/deliveries/"+dlvs[0]+"/retry", nil)
			waitDelivery(t, l, dlvs[0], 10*time.Second, statusIs("delivered"))

			r := l.must(202, "POST", "/api/v1/tenants/acme/endpoints/"+epID+"/replay", map[string]any{"since": since})
			if r["queued"] != float64(2) || r["status"] != "done" {
				t.Fatalf("replay = %v, want done with the 2 failed deliveries queued", r)
			}
			for _, d := range dlvs[1:] {
				waitDelivery(t, l, d, 10*time.Second, statusIs("delivered"))
			}
			got := rc.wait(t, 6, 10*time.Second)
			per := map[string]int{}
			for _, c := range got {
				per[c.header.Get("webhook-id")]++
			}
			if len(got) != 6 || per[events[0]] != 2 || per[events[1]] != 2 || per[events[2]] != 2 {
				t.Fatalf("receiver got %d requests, by event %v; want each event twice: failed, then retried or replayed", len(got), per)
			}
			if g := l.must(200, "GET", "/api/v1/tenants/acme/replays/"+r["id"].(string), nil); g["queued"] != float64(2) || g["status"] != "done" {
				t.Fatalf("GET replay = %v, want done with 2 queued", g)
			}
		})
	}
}

// Under a short retention old events vanish, with their deliveries, while
// recent ones stay; the runs are on the server's clock and in its log.
func TestServe_RetentionDeletesOldEvents(t *testing.T) {
	t.Parallel()
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			t.Parallel()
			start := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
			fake := clock.NewFake(start)
			rc := newCapture(t, nil)
			var logs lockedBuffer
			l, _ := runServer(t, &app.Config{
				DatabaseURL: db.url(t), AllowPrivateDestinations: true, Clock: fake,
				Retention: time.Hour, RetentionEvery: time.Minute,
			}, slog.New(slog.NewJSONHandler(&logs, nil)))
			l.must(201, "POST", "/api/v1/tenants", map[string]any{"id": "acme", "name": "Acme"})
			l.must(201, "POST", "/api/v1/tenants/acme/endpoints", map[string]any{"url": rc.URL})
			post := func() (string, string) {
				ev := l.must(202, "POST", "/api/v1/tenants/acme/events", map[string]any{"type": "user.created", "data": map[string]any{}})["id"].(string)
				d := deliveryOf(t, l, ev)["id"].(string)
				waitDelivery(t, l, d, 10*time.Second, statusIs("delivered"))
				return ev, d
			}
			oldEv, oldDlv := post()
			fake.Advance(30 * time.Minute)
			newEv, newDlv := post()
			fake.Advance(31 * time.Minute) // the old event is 61 minutes old, the new one 31
			gone := func() bool {
				code, _ := l.do("GET", "/api/v1/tenants/acme/events/"+oldEv, nil)
				return code == http.StatusNotFound
			}
			// The sweeper sets its next run after each: nudge the clock on
			// by its interval until it has run, at most a few times.
			for range 20 {
				if gone() {
					break
				}
				time.Sleep(100 * time.Millisecond)
				if !gone() {
					fake.Advance(time.Minute)
				}
			}
			if !gone() {
				t.Fatalf("the event older than the retention is still there; log:\n%s", logs.String())
			}
			if code, _ := l.do("GET", "/api/v1/tenants/acme/deliveries/"+oldDlv, nil); code != http.StatusNotFound {
				t.Errorf("the old event's delivery: %d, want 404", code)
			}
			l.must(200, "GET", "/api/v1/tenants/acme/events/"+newEv, nil)
			l.must(200, "GET", "/api/v1/tenants/acme/deliveries/"+newDlv, nil)
			// The event is gone once its batch commits; the run is logged
			// and counted when it ends, a moment later.
			ran := func() bool {
				_, got := l.scrape()
				return strings.Contains(logs.String(), `"events":1`) && got[`herald_retention_deleted_total{kind="events"}`] >= 1
			}
			for deadline := time.Now().Add(5 * time.Second); !ran() && time.Now().Before(deadline); {
				time.Sleep(20 * time.Millisecond)
			}
			if !strings.Contains(logs.String(), `"msg":"retention run"`) || !strings.Contains(logs.String(), `"events":1`) {
				t.Errorf("no retention run with its deleted event in the log:\n%s", logs.String())
			}
			// And in the metrics.
			_, got := l.scrape()
			if got[`herald_retention_deleted_total{kind="events"}`] != 1 || got[`herald_retention_deleted_total{kind="deliveries"}`] != 1 ||
				got[`herald_retention_deleted_total{kind="attempts"}`] != 1 || got[`herald_retention_runs_total{result="ok"}`] < 2 ||
				got[`herald_retention_runs_total{result="error"}`] != 0 || got[`herald_retention_last_run_timestamp_seconds`] < float64(start.Unix()) {
				t.Errorf("retention series: %v, want 1 event, delivery and attempt deleted in at least 2 good runs", got)
			}
		})
	}
}

// Across a whole flow (keys presented, good and bad; an endpoint created
// with a secret and custom headers, rotated, tested; events delivered
// after a failure; a replay) the log has a line for every attempt, and
// never a key, a secret, a header's value, an event's data or a
// receiver's answer.
func TestServe_LogsNeverHoldSecrets(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	n := 0
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		first := n == 1
		mu.Unlock()
		if first {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_, _ = w.Write([]byte("answer-marker: the receiver's own words"))
	}))
	defer rc.Close()
	var logs lockedBuffer
	l, stop := runServer(t, &app.Config{AllowPrivateDestinations: true},
		slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))

	l.must(201, "POST", "/api/v1/tenants", map[string]any{"id": "acme", "name": "Acme"})
	tenantKey := l.must(201, "POST", "/api/v1/tenants/acme/keys", map[string]any{"name": "ci"})["key"].(string)
	l.must(201, "PUT", "/api/v1/formats/quick", map[string]any{
		"name": "quick", "signature": map[string]any{"scheme": "standard-webhooks"}, "retry": map[string]any{"schedule": []string{"50ms"}},
	})
	mySecret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	ep := l.must(201, "POST", "/api/v1/tenants/acme/endpoints", map[string]any{
		"url": rc.URL, "format": "quick", "secret": mySecret, "headers": map[string]string{"X-Api-Token": "header-secret-marker"},
	})
	epID := ep["id"].(string)
	tl := *l
	tl.key = tenantKey
	ev := tl.must(202, "POST", "/api/v1/tenants/acme/events", map[string]any{"type": "user.created", "data": map[string]any{"email": "data-marker@example.com"}})
	d := deliveryOf(t, &tl, ev["id"].(string))["id"].(string)
	waitDelivery(t, &tl, d, 10*time.Second, statusIs("delivered"))
	rotated := tl.must(200, "POST", "/api/v1/tenants/acme/endpoints/"+epID+"/rotate-secret", nil)["secret"].(string)
	tl.must(200, "POST", "/api/v1/tenants/acme/endpoints/"+epID+"/test", nil)
	tl.must(202, "POST", "/api/v1/tenants/acme/endpoints/"+epID+"/replay", map[string]any{"since": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "status": "delivered", "event_type": "user.created"})
	waitDelivery(t, &tl, d, 10*time.Second, func(m map[string]any) bool { return m["attempt_count"] == float64(3) && m["status"] == "delivered" })
	bad := tl
	bad.key = "hk_bogus_key_marker_0123456789abcdefghij"
	if code, _ := bad.do("GET", "/api/v1/tenants/acme/endpoints", nil); code != http.StatusUnauthorized {
		t.Fatalf("a bogus key got %d, want 401", code)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	all := logs.String()
	attempts := 0
	for _, line := range strings.Split(strings.TrimSpace(all), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if m["msg"] == "attempt" {
			attempts++
			if m["delivery_id"] == nil || m["endpoint_id"] != epID || m["tenant_id"] != "acme" || m["status"] == nil {
				t.Errorf("attempt line without its ids and status: %v", m)
			}
		}
	}
	// 503, then 200, the test send, the replay's.
	if attempts != 4 {
		t.Errorf("%d attempt lines, want 4 (a failure, its retry, a test send, a replay):\n%s", attempts, all)
	}
	for what, secret := range map[string]string{
		"the admin key": liveAdminKey, "the tenant key": tenantKey, "the bogus key": bad.key,
		"the endpoint's first secret": mySecret, "its secret after rotation": rotated,
		"a custom header": "header-secret-marker", "the event's data": "data-marker", "the receiver's answer": "answer-marker",
	} {
		if strings.Contains(all, secret) {
			t.Errorf("the log holds %s (%q)", what, secret)
		}
	}
	// The keys' secret parts are not there cut short either.
	for what, key := range map[string]string{"the admin key": liveAdminKey, "the tenant key": tenantKey, "the secret": rotated} {
		if part := key[len(key)-16:]; strings.Contains(all, part) {
			t.Errorf("the log holds the end of %s (%q)", what, part)
		}
	}
}
