package app_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/app"
)

// What issue 10 met: a delivery to a name that does not resolve showed a
// tenant key "lookup example.com on 10.255.255.53:53: no such host", the
// server's resolver. Every place a tenant reads a delivery's error (the API
// with its own key, a test send's answer, its portal, the data of the
// failure notice sent to its endpoints) shows the classified text, and
// the operator's log line has the error's own text.
func TestServe_TenantsSeeClassifiedErrors(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	l, _ := runServer(t, &app.Config{AllowPrivateDestinations: true}, slog.New(slog.NewJSONHandler(&logs, nil)))
	setupTenant(t, l, `{"name":"once","retry":{"schedule":[]}}`, "once")
	notices := newCapture(t, nil)
	endpoint(t, l, notices.URL+"/notices", "once", []string{"webhook.delivery_failed"}, "")
	epID, _ := endpoint(t, l, "http://herald-e2e-test.invalid/hook", "once", []string{"user.created"}, "")

	tenantKey := l.must(http.StatusCreated, "POST", "/api/v1/tenants/acme/keys", map[string]any{"name": "acme"})["key"].(string)
	tenant := &live{t: t, base: l.base, key: tenantKey}

	// hidden is what no tenant may read: the resolver's text and address.
	var hidden []string
	check := func(where, got string) {
		t.Helper()
		if !strings.HasPrefix(got, "dns: ") {
			t.Errorf("%s: error %q, want the classified dns: ...", where, got)
		}
		for _, h := range append([]string{"lookup", "herald-e2e-test.invalid", " on "}, hidden...) {
			if strings.Contains(got, h) {
				t.Errorf("%s: error %q holds %q", where, got, h)
			}
		}
	}

	ev := l.must(http.StatusAccepted, "POST", "/api/v1/tenants/acme/events", map[string]any{"type": "user.created", "data": map[string]any{"id": "usr_1"}})
	dlv := deliveryOf(t, l, ev["id"].(string))["id"].(string)
	d := waitDelivery(t, tenant, dlv, 30*time.Second, statusIs("failed"))

	// The operator's log line has the whole text, the resolver with it.
	// It is written once the attempt's batch has committed, so it may
	// come a moment after the delivery reads as failed.
	var detail, stored string
	for deadline := time.Now().Add(10 * time.Second); detail == "" && time.Now().Before(deadline); {
		for _, line := range strings.Split(logs.String(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "attempt" && m["delivery_id"] == dlv {
				detail, _ = m["error_detail"].(string)
				stored, _ = m["error"].(string)
			}
		}
		if detail == "" {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if !strings.Contains(detail, "lookup herald-e2e-test.invalid") {
		t.Fatalf("the attempt's log line has error_detail %q, want the resolver's own text", detail)
	}
	if _, server, ok := strings.Cut(detail, " on "); ok {
		hidden = append(hidden, strings.Split(server, ": ")[0]) // the resolver's address
	}
	check("the log line's error", stored)

	check("GET delivery, last_error", d["last_error"].(string))
	check("GET delivery, error", fmt.Sprint(d["error"]))
	for i, a := range d["attempts"].([]any) {
		check(fmt.Sprintf("GET delivery, attempt %d", i+1), a.(map[string]any)["error"].(string))
	}
	list := tenant.must(http.StatusOK, "GET", "/api/v1/tenants/acme/deliveries?status=failed", nil)["data"].([]any)
	if len(list) != 1 {
		t.Fatalf("%d failed deliveries listed, want 1", len(list))
	}
	check("GET deliveries", list[0].(map[string]any)["last_error"].(string))
	res := tenant.must(http.StatusOK, "POST", "/api/v1/tenants/acme/endpoints/"+epID+"/test", nil)
	check("test send", res["error"].(string))

	// The failure notice, as delivered to the tenant's other endpoint.
	got := notices.wait(t, 1, 30*time.Second)
	var notice struct {
		Type string `json:"type"`
		Data struct {
			Error    string `json:"error"`
			Failures []struct {
				Error string `json:"error"`
			} `json:"failures"`
		} `json:"data"`
	}
	if err := json.Unmarshal(got[0].body, &notice); err != nil || notice.Type != "webhook.delivery_failed" || len(notice.Data.Failures) != 1 {
		t.Fatalf("notice %s (%v), want a webhook.delivery_failed of one failure", got[0].body, err)
	}
	check("failure notice data.error", notice.Data.Error)
	check("failure notice data.failures[0].error", notice.Data.Failures[0].Error)

	// The portal: a link the tenant makes, opened in a browser.
	link := tenant.must(http.StatusCreated, "POST", "/api/v1/tenants/acme/portal-links", map[string]any{})["url"].(string)
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	for _, page := range []string{link, l.base + "/tenants/acme/deliveries?status=failed", l.base + "/tenants/acme/deliveries/" + dlv} {
		resp, err := browser.Get(page)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("portal GET %s: %d", page, resp.StatusCode)
		}
		html := string(body)
		if page != link && !strings.Contains(html, "dns: ") {
			t.Errorf("portal page %s does not show the classified error", page)
		}
		for _, h := range append([]string{"lookup herald-e2e-test", "no such host on"}, hidden...) {
			if strings.Contains(html, h) {
				t.Errorf("portal page %s holds %q", page, h)
			}
		}
	}
}
