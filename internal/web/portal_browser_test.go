package web_test

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/clock"
)

// portalTenant is a tenant made through the API with one endpoint (to rc)
// and one event delivered to it.
type portalTenant struct {
	id, endpoint, delivery string
}

func makePortalTenant(t *testing.T, srv *server, id string, rc *receiver) *portalTenant {
	t.Helper()
	if c := srv.api(t, http.MethodPost, "/api/v1/tenants", map[string]any{"id": id, "name": "Tenant " + id}, nil); c != http.StatusCreated {
		t.Fatalf("create tenant %s: %d", id, c)
	}
	var ep struct{ ID string }
	if c := srv.api(t, http.MethodPost, "/api/v1/tenants/"+id+"/endpoints", map[string]any{"url": rc.URL + "/" + id}, &ep); c != http.StatusCreated {
		t.Fatalf("create endpoint of %s: %d", id, c)
	}
	if c := srv.api(t, http.MethodPost, "/api/v1/tenants/"+id+"/events", map[string]any{"type": "user.created", "data": map[string]any{"tenant": id}}, nil); c != http.StatusAccepted {
		t.Fatalf("send an event to %s: %d", id, c)
	}
	var page struct{ Data []struct{ ID string } }
	srv.api(t, http.MethodGet, "/api/v1/tenants/"+id+"/deliveries", nil, &page)
	if len(page.Data) != 1 {
		t.Fatalf("%s has %d deliveries, want 1", id, len(page.Data))
	}
	return &portalTenant{id: id, endpoint: ep.ID, delivery: page.Data[0].ID}
}

func portalLink(t *testing.T, srv *server, tenant, expiresIn string) string {
	t.Helper()
	var link struct{ URL string }
	if c := srv.api(t, http.MethodPost, "/api/v1/tenants/"+tenant+"/portal-links", map[string]any{"expires_in": expiresIn}, &link); c != http.StatusCreated {
		t.Fatalf("portal link of %s: %d", tenant, c)
	}
	return link.URL
}

// wantHeading navigates to u and checks the page's heading begins with
// want ("404" for a page that is not there).
func (tb *tab) wantHeading(u, want string) {
	tb.t.Helper()
	tb.run(chromedp.Navigate(u), chromedp.WaitVisible(chromedp.CSS(`h1`)))
	if h := tb.text("h1"); !strings.HasPrefix(h, want) {
		tb.t.Fatalf("%s shows %q, want %q", u, h, want)
	}
}

// A customer opens a portal link in a fresh browser, with no key: it sees
// its tenant's endpoints and deliveries, and editing the URL to another
// tenant, or to another tenant's endpoint or delivery under its own, finds
// nothing. A link changed by hand, and one that has expired, are refused.
func TestBrowser_Portal(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Now())
	srv := startServer(t, func(c *app.Config) { c.Clock = clk })
	b := newBrowser(t)
	rc := newReceiver(t, http.StatusOK)
	acme := makePortalTenant(t, srv, "acme", rc)
	globex := makePortalTenant(t, srv, "globex", rc)
	srv.waitFinished(t, "acme")

	link := portalLink(t, srv, acme.id, "10m")
	tb := b.tab(t)
	tb.run(chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`h1`)))
	if loc := tb.location(); loc != srv.base+"/tenants/acme" {
		t.Fatalf("the portal link led to %s, want the tenant's page", loc)
	}
	page := tb.text("main")
	if !strings.Contains(page, acme.endpoint) || strings.Contains(page, globex.endpoint) {
		t.Fatalf("the portal's endpoints page shows %q, want acme's endpoint %s and not globex's", page, acme.endpoint)
	}
	if tb.exists(`a[href="/tenants"]`) || tb.exists(`a[href="/formats"]`) || tb.exists(`a[href="/"]`) {
		t.Fatal("the portal shows the operator's navigation")
	}
	tb.waitText("main", "100% of 1 attempt")
	tb.screenshot("portal")
	tb.run(chromedp.Navigate(srv.base+"/tenants/acme/deliveries"), chromedp.WaitVisible(chromedp.CSS(`h1`)))
	if page := tb.text("main"); !strings.Contains(page, acme.delivery) {
		t.Fatalf("the portal's deliveries page shows %q, want delivery %s", page, acme.delivery)
	}
	tb.run(chromedp.Navigate(srv.base+"/tenants/acme/deliveries/"+acme.delivery), chromedp.WaitVisible(chromedp.CSS(`h1`)))
	tb.waitText("main", "Attempt")
	tb.run(chromedp.Navigate(srv.base+"/tenants/acme/endpoints/"+acme.endpoint), chromedp.WaitVisible(chromedp.CSS(`h1`)))
	if !tb.exists(`form[action$="/test"]`) || !tb.exists(`form[action$="/replay"]`) {
		t.Fatal("the portal's endpoint page has no test send or replay")
	}

	// Every way to globex's objects by editing the URL is 404.
	for _, p := range []string{
		"/tenants/globex", "/tenants/globex/deliveries", "/tenants/globex/events",
		"/tenants/globex/endpoints/" + globex.endpoint, "/tenants/globex/deliveries/" + globex.delivery,
		"/tenants/acme/endpoints/" + globex.endpoint, "/tenants/acme/deliveries/" + globex.delivery,
		"/tenants", "/formats", "/event-types",
	} {
		tb.wantHeading(srv.base+p, "404")
		// The page may name what was asked for, and nothing else of globex.
		page := strings.ReplaceAll(tb.text("main"), p, "")
		for _, id := range []string{globex.endpoint, globex.delivery} {
			page = strings.ReplaceAll(page, id+" not found", "")
		}
		if strings.Contains(page, "globex") || strings.Contains(page, globex.endpoint) || strings.Contains(page, globex.delivery) {
			t.Fatalf("%s shows globex's objects: %q", p, page)
		}
	}
	// A form posted to globex's endpoint with the portal session's token
	// (from its own page) is refused too.
	tb.run(chromedp.Navigate(srv.base+"/tenants/acme/endpoints/"+acme.endpoint), chromedp.WaitVisible(chromedp.CSS(`form[action$="/replay"]`)))
	tb.run(chromedp.SetAttributeValue(chromedp.CSS(`form[action$="/replay"]`), "action", "/tenants/globex/endpoints/"+globex.endpoint+"/replay"),
		chromedp.Submit(chromedp.CSS(`form[action$="/replay"] button`)))
	tb.waitText("h1", "404")

	// A link changed by hand is 403; one past its time 401, in another
	// fresh browser.
	u, _ := url.Parse(portalLink(t, srv, acme.id, "1m"))
	q := u.Query()
	q.Set("token", strings.Replace(q.Get("token"), ".", ".Z", 1))
	u.RawQuery = q.Encode()
	other := b.tab(t)
	other.wantHeading(u.String(), "403")
	expiring := portalLink(t, srv, acme.id, "1m")
	clk.Advance(2 * time.Minute)
	other.wantHeading(expiring, "401")
	if msg := other.text("main"); !strings.Contains(msg, "expired") {
		t.Fatalf("an expired link's page says %q, want that it expired", msg)
	}
	other.wantHeading(srv.base+"/tenants/acme/deliveries", "Sign in")
}

// A portal page may be framed by the tenant's portal origins and no
// others; its cookie is HttpOnly and SameSite.
func TestPortal_FramedOnlyByTheTenantsOrigins(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	for id, origins := range map[string][]string{"acme": {"https://app.acme.example", "http://localhost:3000"}, "globex": nil} {
		if c := srv.api(t, http.MethodPost, "/api/v1/tenants", map[string]any{"id": id, "portal_origins": origins}, nil); c != http.StatusCreated {
			t.Fatalf("create tenant %s: %d", id, c)
		}
	}
	for id, want := range map[string]string{"acme": "frame-ancestors https://app.acme.example http://localhost:3000;", "globex": "frame-ancestors 'none';"} {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar}
		resp, err := c.Get(portalLink(t, srv, id, "5m"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/tenants/"+id {
			t.Fatalf("%s's link: %d at %s, want its tenant's page", id, resp.StatusCode, resp.Request.URL)
		}
		if got := resp.Header.Get("Content-Security-Policy"); !strings.Contains(got, want) {
			t.Errorf("%s's portal page CSP %q, want %q", id, got, want)
		}
		if xfo := resp.Header.Get("X-Frame-Options"); (id == "globex") != (xfo == "DENY") {
			t.Errorf("%s's portal page X-Frame-Options %q", id, xfo)
		}
		first := resp.Request.Response // the redirect that set the cookie
		if first == nil || !strings.Contains(first.Header.Get("Set-Cookie"), "HttpOnly") || !strings.Contains(first.Header.Get("Set-Cookie"), "SameSite=Lax") {
			t.Errorf("%s's portal cookie is not HttpOnly and SameSite=Lax", id)
		}
	}
}
