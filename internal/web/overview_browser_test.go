package web_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/clock"
)

// waitFinished waits until none of the tenant's deliveries is pending or
// delivering: the engine has sent every one.
func (s *server) waitFinished(t *testing.T, tenant string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		busy := false
		for _, st := range []string{"pending", "delivering"} {
			var page struct{ Data []struct{ ID string } }
			s.api(t, "GET", "/api/v1/tenants/"+tenant+"/deliveries?limit=1&status="+st, nil, &page)
			busy = busy || len(page.Data) > 0
		}
		if !busy {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the deliveries of %s were not all sent within 30 s", tenant)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A few hours of traffic on a fake clock (the receiver takes a varying
// part of a second to answer, on that clock, so latencies vary), then the
// overview in a browser: both charts drawn and summed up in words, the
// latency percentiles, the queue, and the disabled endpoint reached by
// keyboard from its link.
func TestBrowser_Overview(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC))
	srv := startServer(t, func(c *app.Config) { c.Clock = clk })
	b := newBrowser(t)
	var n atomic.Int64
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		clk.Advance(time.Duration(40+(n.Add(1)*137)%700) * time.Millisecond)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(ok.Close)
	bad := newReceiver(t, http.StatusInternalServerError)
	if c := srv.api(t, "PUT", "/api/v1/formats/no-retry", map[string]any{"retry": map[string]any{"schedule": []string{}}}, nil); c != 201 {
		t.Fatalf("PUT format: %d", c)
	}
	if c := srv.api(t, "POST", "/api/v1/tenants", map[string]any{"id": "acme", "name": "Acme Inc"}, nil); c != 201 {
		t.Fatalf("create tenant: %d", c)
	}
	var legacy struct{ ID string }
	for _, ep := range []map[string]any{
		{"url": ok.URL + "/hook", "events": []string{"order.*"}},
		{"url": bad.URL + "/hook", "events": []string{"invoice.*"}, "format": "no-retry"},
		{"url": ok.URL + "/legacy", "events": []string{"legacy.*"}},
	} {
		if c := srv.api(t, "POST", "/api/v1/tenants/acme/endpoints", ep, &legacy); c != 201 {
			t.Fatalf("create endpoint %v: %d", ep, c)
		}
	}
	if c := srv.api(t, "PATCH", "/api/v1/tenants/acme/endpoints/"+legacy.ID, map[string]any{"enabled": false}, nil); c != 200 {
		t.Fatalf("disable the legacy endpoint: %d", c)
	}
	send := func(typ string, k int) {
		for range k {
			if c := srv.api(t, "POST", "/api/v1/tenants/acme/events", map[string]any{"type": typ, "data": map[string]any{"n": n.Load()}}, nil); c != 202 {
				t.Fatalf("POST event: %d", c)
			}
		}
	}
	// Four hours at a quarter of an hour a step, then the last 45 minutes
	// a minute a step.
	delivered, failed := 0, 0
	for i := range 16 {
		send("order.paid", 3+i%4)
		delivered += 3 + i%4
		if i%5 == 0 {
			send("invoice.sent", 2)
			failed += 2
		}
		srv.waitFinished(t, "acme")
		clk.Advance(15 * time.Minute)
	}
	// A quiet half hour: the chart of the last hour holds only what
	// follows.
	clk.Advance(30 * time.Minute)
	lastHour := 0
	for i := range 45 {
		send("order.paid", 1+(i*7)%5)
		delivered += 1 + (i*7)%5
		lastHour += 1 + (i*7)%5
		if i%6 == 0 {
			send("invoice.sent", 1)
			failed++
		}
		srv.waitFinished(t, "acme")
		clk.Advance(time.Minute)
	}

	tb := b.tab(t)
	tb.signIn(srv.base)
	if got := tb.text("#chart-minutes-summary"); !strings.Contains(got, fmt.Sprintf("%d delivered", lastHour)) {
		t.Errorf("the hour's chart sums up %q, want %d delivered", got, lastHour)
	}
	if got := tb.text("#chart-hours-summary"); !strings.Contains(got, fmt.Sprintf("%d delivered and %d failed", delivered, failed)) {
		t.Errorf("the day's chart sums up %q, want %d delivered and %d failed", got, delivered, failed)
	}
	bars := get(tb, chromedp.Evaluate[int](`document.querySelectorAll("#chart-minutes rect.delivered").length`))
	if bars < 40 {
		t.Errorf("the hour's chart draws %d delivered bars, want one for each minute with deliveries", bars)
	}
	label := get(tb, chromedp.Evaluate[string](`document.querySelector("#chart-minutes svg").getAttribute("aria-labelledby").split(" ").map(id => document.getElementById(id).textContent).join(" ")`))
	if !strings.Contains(label, "by minute") || !strings.Contains(label, "delivered") {
		t.Errorf("the chart's accessible name is %q, want its title and summary", label)
	}
	if got := tb.text("#latency-h + p + dl"); !regexp.MustCompile(`p50\s*[0-9.]+ m?s\s*p90\s*[0-9.]+ m?s\s*p99\s*[0-9.]+ m?s`).MatchString(got) {
		t.Errorf("the latency tiles read %q, want the three percentiles", got)
	}
	tb.screenshot("overview")

	// The disabled endpoint, by keyboard, from its link.
	tb.tabTo("[/tenants/acme/endpoints/" + legacy.ID + "]")
	tb.enter()
	tb.run(chromedp.WaitVisible(chromedp.CSS(`#ep-h`)))
	if got := tb.text("#ep-h + dl"); !strings.Contains(got, "disabled by hand") {
		t.Errorf("the disabled endpoint's page reads %q, want why it is disabled", got)
	}
}
