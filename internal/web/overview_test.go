package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// finish makes an event of ep accepted at created whose delivery ends with
// status at at, answered 200 when delivered and 500 when failed.
func finish(t *testing.T, st store.Store, ep *store.Endpoint, n int, created, at time.Time, status string) {
	t.Helper()
	code := 200
	if status == store.StatusFailed {
		code = 500
	}
	finishCode(t, st, ep, n, created, at, status, code)
}

// finishCode is finish with the answer's status code.
func finishCode(t *testing.T, st store.Store, ep *store.Endpoint, n int, created, at time.Time, status string, code int) {
	t.Helper()
	ctx := context.Background()
	data := fmt.Sprintf(`{"n":%d}`, n)
	res, err := st.EventCreate(ctx, &store.EventCreateParams{
		Event: &store.Event{TenantID: ep.TenantID, Type: "order.paid", Data: json.RawMessage(data),
			Hash: store.EventHash("order.paid", []byte(data)), TraceID: "0123456789abcdef0123456789abcdef", Source: store.SourceAPI},
		EndpointIDs: []string{ep.ID}, Now: created, LeaseOwner: "w", LeaseUntil: at.Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.DeliveryRecordAttempts(ctx, []*store.AttemptRecordParams{{
		DeliveryID: res.Deliveries[0].ID, Owner: "w", Status: status, Now: at,
		Attempt: &store.Attempt{Number: 1, StartedAt: at, ResponseCode: code},
	}}); err != nil {
		t.Fatal(err)
	}
}

// The overview at /: both charts as inline SVG with their summaries as
// labels and a table of every bar, the latency percentiles, the queue and
// the disabled endpoints with links; its polling gets the live part only.
func TestOverview_ChartsLatencyQueueAndDisabledEndpoints(t *testing.T) {
	t.Parallel()
	d := newDash(t)
	d.signedIn()
	ctx := context.Background()
	now := d.clk.Now() // 12:00:00
	if _, err := d.st.TenantCreate(ctx, &store.Tenant{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	ep, err := d.st.EndpointCreate(ctx, &store.Endpoint{TenantID: "acme", URL: "https://x.example/", Events: []string{"*"}, Enabled: true, Secret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	off, err := d.st.EndpointCreate(ctx, &store.Endpoint{TenantID: "acme", URL: "https://gone.example/", Events: []string{"none"}, Secret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	// 11:50: three delivered, 200 ms to 1 s after their events; 11:45 one
	// failed; 09:10 one delivered.
	for i, lat := range []time.Duration{200 * time.Millisecond, 500 * time.Millisecond, time.Second} {
		at := now.Add(-10 * time.Minute)
		finish(t, d.st, ep, i, at.Add(-lat), at, store.StatusDelivered)
	}
	finish(t, d.st, ep, 3, now.Add(-15*time.Minute), now.Add(-15*time.Minute), store.StatusFailed)
	finish(t, d.st, ep, 4, now.Add(-170*time.Minute), now.Add(-170*time.Minute), store.StatusDelivered)

	a := d.do(d.client, "GET", "/", nil)
	if a.code != 200 {
		t.Fatalf("GET /: %d\n%s", a.code, a.body)
	}
	for _, want := range []string{
		`<h1>Overview</h1>`,
		`aria-current="page">Overview</a>`,
		`role="img" aria-labelledby="chart-minutes-h chart-minutes-summary"`,
		`role="img" aria-labelledby="chart-hours-h chart-hours-summary"`,
		`In the last hour, 3 delivered and 1 failed; the busiest minute, 11:50, had 3.`,
		`In the last day, 4 delivered and 1 failed; the busiest hour, 11:00, had 4.`,
		`<title>11:50: 3 delivered, 0 failed</title>`,
		`<dt>p50</dt><dd>500 ms</dd>`, `<dt>p99</dt><dd>1.0 s</dd>`,
		`the 3 deliveries delivered in the hour, on every node`,
		`<dt>pending</dt><dd>0</dd>`,
		`Disabled endpoints <span class="muted">(1)</span>`,
		`<a href="/tenants/acme/endpoints/` + off.ID + `">`,
		`disabled by hand`,
		`hx-trigger="every 15s"`,
	} {
		if !strings.Contains(a.body, want) {
			t.Errorf("the overview lacks %q", want)
		}
	}
	if n := strings.Count(a.body, `<th scope="row">`); n != 60+24 {
		t.Errorf("the charts' tables have %d rows, want 60 minutes and 24 hours", n)
	}
	if n := strings.Count(a.body, `<rect class="delivered"`); n != 3 {
		t.Errorf("%d delivered bars, want 3 (11:50, and the hours 09:00 and 11:00)", n)
	}
	if n := strings.Count(a.body, `<rect class="failed"`); n != 2 {
		t.Errorf("%d failed bars, want 2 (11:45, and the hour 11:00)", n)
	}
	// Every bar stays within the plot.
	for _, m := range regexp.MustCompile(`<rect class="\w+" x="(\d+)" y="(\d+)" width="(\d+)" height="(\d+)">`).FindAllStringSubmatch(a.body, -1) {
		var x, y, w, h int
		fmt.Sscan(m[1]+" "+m[2]+" "+m[3]+" "+m[4], &x, &y, &w, &h)
		if x < 44 || x+w > 644 || y < 8 || y+h > 158 || h <= 0 || w <= 0 {
			t.Errorf("a bar outside the plot: %s", m[0])
		}
	}

	live := d.do(d.client, "GET", "/", nil, "HX-Request", "true")
	if live.code != 200 || strings.Contains(live.body, "<html") || !strings.HasPrefix(strings.TrimSpace(live.body), `<div id="overview-live"`) ||
		strings.Contains(live.body, "Disabled endpoints") {
		t.Errorf("the overview's polling got %d:\n%s\nwant the live part alone", live.code, live.body)
	}
}

// With nothing delivered yet the overview says so in words.
func TestOverview_EmptySaysSo(t *testing.T) {
	t.Parallel()
	d := newDash(t)
	d.signedIn()
	a := d.do(d.client, "GET", "/", nil)
	for _, want := range []string{"No delivery finished in the last hour.", "No delivery finished in the last day.",
		"No delivery was delivered in the last hour.", "None: every endpoint is enabled."} {
		if !strings.Contains(a.body, want) {
			t.Errorf("the empty overview lacks %q", want)
		}
	}
}

// The tenant's endpoints list their health: the share of the last day's
// attempts that succeeded, the last attempt's answer and when, a failing
// streak, and why one is disabled.
func TestTenantPage_ListsEachEndpointsHealth(t *testing.T) {
	t.Parallel()
	d := newDash(t)
	d.signedIn()
	ctx := context.Background()
	now := d.clk.Now()
	if _, err := d.st.TenantCreate(ctx, &store.Tenant{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	mk := func(url string, enabled bool) *store.Endpoint {
		ep, err := d.st.EndpointCreate(ctx, &store.Endpoint{TenantID: "acme", URL: url, Events: []string{"*"}, Enabled: enabled, Secret: "s"})
		if err != nil {
			t.Fatal(err)
		}
		return ep
	}
	flaky, gone := mk("https://flaky.example/", true), mk("https://gone.example/", true)
	mk("https://new.example/", true)
	mk("https://off.example/", false)
	finish(t, d.st, flaky, 1, now.Add(-3*time.Hour), now.Add(-3*time.Hour), store.StatusDelivered)
	finish(t, d.st, flaky, 2, now.Add(-2*time.Hour), now.Add(-2*time.Hour), store.StatusDelivered)
	finish(t, d.st, flaky, 3, now.Add(-5*time.Minute), now.Add(-5*time.Minute), store.StatusFailed)
	finishCode(t, d.st, gone, 4, now.Add(-time.Minute), now.Add(-time.Minute), store.StatusFailed, 410)

	a := d.do(d.client, "GET", "/tenants/acme", nil)
	if a.code != 200 {
		t.Fatalf("GET /tenants/acme: %d\n%s", a.code, a.body)
	}
	rows := map[string]string{}
	for _, m := range regexp.MustCompile(`(?s)<tr>\s*<td class="id"><a href="/tenants/acme/endpoints/[^"]+">[^<]+</a></td>\s*<td class="url">([^<]+)</td>(.*?)</tr>`).FindAllStringSubmatch(a.body, -1) {
		rows[m[1]] = regexp.MustCompile(`<[^>]+>`).ReplaceAllString(m[2], "")
	}
	for url, want := range map[string][]string{
		"https://flaky.example/": {"enabled", "66.7% of 3 attempts", "500", "5m0s ago", "1 failed in a row"},
		"https://gone.example/":  {"disabled", "it answered 410 Gone", "0% of 1 attempt", "410", "1m0s ago"},
		"https://new.example/":   {"enabled", "no attempts", "none yet"},
		"https://off.example/":   {"disabled", "disabled by hand", "no attempts"},
	} {
		row, ok := rows[url]
		if !ok {
			t.Errorf("no row for %s in:\n%s", url, a.body)
			continue
		}
		for _, w := range want {
			if !strings.Contains(row, w) {
				t.Errorf("the row of %s reads %q, want %q in it", url, strings.Join(strings.Fields(row), " "), w)
			}
		}
	}
	if strings.Contains(rows["https://gone.example/"], "0.0%") {
		t.Errorf("none of one attempt succeeded reads %q, want 0%%", rows["https://gone.example/"])
	}
	if strings.Contains(rows["https://new.example/"], "failed in a row") {
		t.Errorf("a new endpoint shows a failing streak: %q", rows["https://new.example/"])
	}
	// The endpoint's own page says the same.
	e := d.do(d.client, "GET", "/tenants/acme/endpoints/"+gone.ID, nil)
	for _, w := range []string{"it answered 410 Gone", "0% of 1 attempt"} {
		if !strings.Contains(e.body, w) {
			t.Errorf("the endpoint page lacks %q", w)
		}
	}
}
