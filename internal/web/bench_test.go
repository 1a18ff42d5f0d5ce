package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/apikey"
	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
	"github.com/heraldhq/herald/internal/web"
)

// BenchmarkPages times the dashboard's pages over a tenant with 100,000
// deliveries (1,000 of them failed) on SQLite, the figure for pages
// that must still answer well under a second; they all finished in the
// last day, which is the overview's worst case:
//
//	go test ./internal/web -run '^$' -bench Pages -benchtime 20x
func BenchmarkPages(b *testing.B) {
	const events, failed = 100_000, 1_000
	ctx := context.Background()
	st := dbtest.SQLite(b)
	if _, err := apikey.NewService(&apikey.Config{Store: st}).Bootstrap(ctx, &apikey.BootstrapParams{Key: adminKey}); err != nil {
		b.Fatal(err)
	}
	if _, err := st.TenantCreate(ctx, &store.Tenant{ID: "big", Name: "Big"}); err != nil {
		b.Fatal(err)
	}
	ep, err := st.EndpointCreate(ctx, &store.Endpoint{TenantID: "big", URL: "https://x.example/", Events: []string{"*"}, Enabled: true, Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var lastEvent string
	for i := 0; i < events; i += 500 {
		ps := make([]*store.EventCreateParams, 0, 500)
		for j := i; j < i+500; j++ {
			data := fmt.Sprintf(`{"n":%d}`, j)
			ps = append(ps, &store.EventCreateParams{
				Event: &store.Event{TenantID: "big", Type: "order.created", Data: json.RawMessage(data),
					Hash: store.EventHash("order.created", []byte(data)), TraceID: "0123456789abcdef0123456789abcdef", Source: store.SourceAPI},
				Now: t0.Add(time.Duration(j) * time.Millisecond),
			})
		}
		out, _, err := st.EventCreateMany(ctx, ps, nil)
		if err != nil {
			b.Fatal(err)
		}
		lastEvent = out[len(out)-1].Result.Event.ID
	}
	// Every delivery finishes, one after the other over the next 23
	// hours, so the overview's day is full: the oldest 1,000 fail (the
	// dead-letter view has to reach past 99,000 others), the rest are
	// delivered.
	now := t0.Add(events * time.Millisecond)
	spread := 23 * time.Hour
	for done := 0; done < events; done += failed {
		claimed, err := st.DeliveryClaimDue(ctx, &store.DeliveryClaimParams{Owner: "bench", Now: now, Lease: 48 * time.Hour, Limit: failed, PerEndpoint: failed})
		if err != nil {
			b.Fatal(err)
		}
		ps := make([]*store.AttemptRecordParams, len(claimed))
		for i, c := range claimed {
			at := now.Add(time.Duration(done+i) * (spread / events))
			p := &store.AttemptRecordParams{DeliveryID: c.Delivery.ID, Owner: "bench", Status: store.StatusDelivered, Now: at,
				Attempt: &store.Attempt{Number: 1, StartedAt: at, ResponseCode: 200, ResponseBody: "ok"}}
			if done == 0 {
				p.Status, p.Attempt.ResponseCode, p.Attempt.ResponseBody = store.StatusFailed, 500, "no"
			}
			ps[i] = p
		}
		if _, err := st.DeliveryRecordAttempts(ctx, ps); err != nil {
			b.Fatal(err)
		}
	}
	rows, err := st.DeliveryList(ctx, "big", &store.DeliveryListParams{ListParams: store.ListParams{Limit: 1}})
	if err != nil {
		b.Fatal(err)
	}

	// The dashboard's clock is at the end of that day: its 24 hours
	// (23:00 is the current one) hold every delivery, its last hour the
	// latest 4,300 or so.
	clk := clock.NewFake(now.Add(spread + 28*time.Minute))
	h := web.New(&web.Config{Store: st, Formats: catalog.New(st, "", clk), Clock: clk})
	cookie := signInDirect(b, h)
	b.Run("overview", func(b *testing.B) {
		for b.Loop() {
			r := httptest.NewRequest("GET", "/", nil)
			r.AddCookie(cookie)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "In the last day, 99,000 delivered and 1,000 failed") {
				b.Fatalf("GET /: %d, want the day's 99,000 delivered and 1,000 failed:\n%s", w.Code, w.Body)
			}
		}
	})
	for _, path := range []string{
		"/tenants/big",
		"/tenants/big/deliveries",
		"/tenants/big/deliveries?status=failed",
		"/tenants/big/deliveries?endpoint=" + ep.ID + "&status=failed",
		"/tenants/big/deliveries/" + rows[0].ID,
		"/tenants/big/endpoints/" + ep.ID,
		"/tenants/big/events",
		"/tenants/big/events?type=order.created",
		"/tenants/big/events/" + lastEvent,
	} {
		name := strings.NewReplacer("/", "_", "?", "_", "&", "_", "=", "-").Replace(strings.TrimPrefix(path, "/tenants/big"))
		b.Run("tenant"+name, func(b *testing.B) {
			for b.Loop() {
				r := httptest.NewRequest("GET", path, nil)
				r.AddCookie(cookie)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
				}
			}
		})
	}
}

// signInDirect signs in through the handler itself and returns the session
// cookie.
func signInDirect(b *testing.B, h http.Handler) *http.Cookie {
	b.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/signin", nil))
	form := w.Result().Cookies()[0]
	tok := csrfField.FindStringSubmatch(w.Body.String())[1]
	r := httptest.NewRequest("POST", "/signin", strings.NewReader(url.Values{"csrf": {tok}, "key": {adminKey}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.AddCookie(form)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	for _, c := range w.Result().Cookies() {
		if c.Name == "herald_session" && c.Value != "" {
			return c
		}
	}
	b.Fatalf("sign-in: %d", w.Code)
	return nil
}
