package web_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/apikey"
	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/eventtype"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
	"github.com/heraldhq/herald/internal/tenant"
	"github.com/heraldhq/herald/internal/web"
)

// dash is the dashboard alone over a fresh store, served on a test server,
// with a browser-like client (cookies kept, redirects not followed).
type dash struct {
	t      *testing.T
	st     store.Store
	clk    *clock.Fake
	h      *web.Handler
	srv    *httptest.Server
	client *http.Client
}

func newDash(t *testing.T, configure ...func(*web.Config)) *dash {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	st := dbtest.SQLite(t, store.WithClock(clk))
	if _, err := apikey.NewService(&apikey.Config{Store: st, Clock: clk}).Bootstrap(context.Background(), &apikey.BootstrapParams{Key: adminKey}); err != nil {
		t.Fatal(err)
	}
	cfg := &web.Config{Store: st, Formats: catalog.New(st, "", clk), Clock: clk, AllowPrivateDestinations: true}
	for _, c := range configure {
		c(cfg)
	}
	d := &dash{t: t, st: st, clk: clk, h: web.New(cfg)}
	d.srv = httptest.NewServer(d.h)
	t.Cleanup(d.srv.Close)
	d.client = d.newClient()
	return d
}

func (d *dash) newClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type answer struct {
	code int
	h    http.Header
	body string
}

func (d *dash) do(c *http.Client, method, path string, form url.Values, header ...string) answer {
	d.t.Helper()
	var rd io.Reader
	if form != nil {
		rd = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, d.srv.URL+path, rd)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		d.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// token is the CSRF token of the page's first form.
func token(t *testing.T, body string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the page has no CSRF token:\n%s", body)
	}
	return m[1]
}

// signIn signs c in with key and returns the CSRF token of the page it
// lands on.
func (d *dash) signIn(c *http.Client, key string) answer {
	d.t.Helper()
	form := d.do(c, "GET", "/signin", nil)
	return d.do(c, "POST", "/signin", url.Values{"csrf": {token(d.t, form.body)}, "key": {key}, "next": {"/tenants"}})
}

func (d *dash) signedIn() string {
	d.t.Helper()
	if a := d.signIn(d.client, adminKey); a.code != http.StatusSeeOther {
		d.t.Fatalf("sign-in: %d %s", a.code, a.body)
	}
	return token(d.t, d.do(d.client, "GET", "/tenants", nil).body)
}

func TestSignIn_TakesOnlyAnAdminKeyThroughItsOwnForm(t *testing.T) {
	t.Parallel()
	d := newDash(t)
	ctx := context.Background()
	if _, err := tenant.NewService(&tenant.Config{Store: d.st}).Create(ctx, &tenant.CreateParams{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	_, tenantKey, err := apikey.NewService(&apikey.Config{Store: d.st}).Create(ctx, &apikey.CreateParams{TenantID: "acme", Name: "k"})
	if err != nil {
		t.Fatal(err)
	}

	if a := d.do(d.client, "GET", "/tenants", nil); a.code != http.StatusSeeOther || a.h.Get("Location") != "/signin?next=%2Ftenants" {
		t.Fatalf("signed out, GET /tenants: %d to %q, want 303 to the sign-in form", a.code, a.h.Get("Location"))
	}
	// A form posted without the token its page set (another site's form).
	if a := d.do(d.client, "POST", "/signin", url.Values{"key": {adminKey}}); a.code != http.StatusForbidden || a.h.Get("Set-Cookie") != "" && strings.Contains(a.h.Get("Set-Cookie"), "herald_session=") {
		t.Fatalf("sign-in without the form's token: %d, want 403 and no session", a.code)
	}
	if a := d.signIn(d.client, "hk_unknown"); a.code != http.StatusUnauthorized || !strings.Contains(a.body, "not an API key") {
		t.Fatalf("an unknown key: %d", a.code)
	}
	if a := d.signIn(d.client, tenantKey); a.code != http.StatusForbidden || !strings.Contains(a.body, "tenant key") {
		t.Fatalf("a tenant key: %d", a.code)
	}
	a := d.signIn(d.client, adminKey)
	if a.code != http.StatusSeeOther || a.h.Get("Location") != "/tenants" {
		t.Fatalf("the admin key: %d to %q, want 303 to /tenants", a.code, a.h.Get("Location"))
	}
	var session *http.Cookie
	for _, c := range (&http.Response{Header: a.h}).Cookies() {
		if c.Name == "herald_session" {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Secure {
		t.Fatalf("session cookie %+v, want HttpOnly, SameSite=Strict, not Secure over plain HTTP", session)
	}
	if strings.Contains(session.Value, adminKey) || strings.Contains(a.body, adminKey) {
		t.Fatal("the key reaches the browser")
	}
	if a := d.do(d.client, "GET", "/tenants", nil); a.code != http.StatusOK || !strings.Contains(a.body, "acme") {
		t.Fatalf("signed in, GET /tenants: %d", a.code)
	}
}

func TestSignIn_GoesBackOnlyToAPathOfThisServer(t *testing.T) {
	t.Parallel()
	d := newDash(t)
	for _, next := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"} {
		c := d.newClient()
		form := d.do(c, "GET", "/signin?next="+url.QueryEscape(next), nil)
		a := d.do(c, "POST", "/signin", url.Values{"csrf": {token(t, form.body)}, "key": {adminKey}, "next": {next}})
		if a.code != http.StatusSeeOther || a.h.Get("Location") != "/" {
			t.Errorf("next=%q: %d to %q, want 303 to /", next, a.code, a.h.Get("Location"))
		}
	}
}

func TestForms_NeedTheSessionsTokenAndThisOrigin(t *testing.T) {
	t.Parallel()
	d := newDash(t)
	tok := d.signedIn()
	ts := tenant.NewService(&tenant.Config{Store: d.st})

	for name, a := range map[string]answer{
		"no token":      d.do(d.client, "POST", "/tenants", url.Values{"id": {"t1"}}),
		"another token": d.do(d.client, "POST", "/tenants", url.Values{"id": {"t1"}, "csrf": {tok + "x"}}),
		"another site":  d.do(d.client, "POST", "/tenants", url.Values{"id": {"t1"}, "csrf": {tok}}, "Origin", "https://evil.example"),
	} {
		if a.code != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, a.code)
		}
	}
	if _, err := ts.Get(context.Background(), "t1"); err == nil {
		t.Fatal("a refused form created the tenant")
	}
	a := d.do(d.client, "POST", "/tenants", url.Values{"id": {"t1"}, "name": {"T one"}, "csrf": {tok}}, "Origin", d.srv.URL)
	if a.code != http.StatusSeeOther || a.h.Get("Location") != "/tenants/t1" {
		t.Fatalf("with the token: %d to %q", a.code, a.h.Get("Location"))
	}
	if _, err := ts.Get(context.Background(), "t1"); err != nil {
		t.Fatalf("the tenant was not created: %v", err)
	}
	// The outcome is shown once, on the next page.
	if a := d.do(d.client, "GET", "/tenants/t1", nil); !strings.Contains(a.body, "Tenant t1 created.") {
		t.Error("the next page does not say the tenant was created")
	}
	if a := d.do(d.client, "GET", "/tenants/t1", nil); strings.Contains(a.body, "Tenant t1 created.") {
		t.Error("the message is shown twice")
	}

	// Signing out takes the token too, and ends the session.
	if a := d.do(d.client, "POST", "/signout", url.Values{}); a.code != http.StatusForbidden {
		t.Errorf("sign-out without the token: %d, want 403", a.code)
	}
	if a := d.do(d.client, "POST", "/signout", url.Values{"csrf": {tok}}); a.code != http.StatusSeeOther {
		t.Errorf("sign-out: %d", a.code)
	}
	if a := d.do(d.client, "GET", "/tenants", nil); a.code != http.StatusSeeOther {
		t.Errorf("after sign-out GET /tenants: %d, want 303 to the sign-in form", a.code)
	}
}

func TestForms_ShowEachFaultAtItsField(t *testing.T) {
	t.Parallel()
	d := newDash(t)
	tok := d.signedIn()
	a := d.do(d.client, "POST", "/tenants", url.Values{"id": {"no spaces"}, "csrf": {tok}})
	if a.code != http.StatusUnprocessableEntity || !strings.Contains(a.body, `id="tenant-id-err"`) || !strings.Contains(a.body, `value="no spaces"`) {
		t.Fatalf("a bad tenant id: %d, want 422 with the message at the field and the value kept\n%s", a.code, a.body)
	}
	d.do(d.client, "POST", "/tenants", url.Values{"id": {"acme"}, "csrf": {tok}})
	for _, tc := range []struct {
		form url.Values
		errs []string
	}{
		{url.Values{"url": {"ftp://x"}, "events": {"a..b"}}, []string{"ep-url-err", "ep-events-err"}},
		{url.Values{"url": {"https://example.com/"}, "rate_limit": {"many"}}, []string{"ep-rate-err"}},
		{url.Values{"url": {"https://example.com/"}, "format": {"no-such-format"}}, []string{"ep-format-err"}},
	} {
		tc.form.Set("csrf", tok)
		a = d.do(d.client, "POST", "/tenants/acme/endpoints", tc.form)
		if a.code != http.StatusUnprocessableEntity {
			t.Fatalf("%v: %d, want 422", tc.form, a.code)
		}
		for _, id := range tc.errs {
			if !strings.Contains(a.body, `id="`+id+`"`) {
				t.Errorf("%v: no message at %s:\n%s", tc.form, id, a.body)
			}
		}
	}
	if a := d.do(d.client, "GET", "/tenants/acme", nil); !strings.Contains(a.body, "No endpoints yet") {
		t.Error("a refused form created an endpoint")
	}
}

func TestSessions_EndAfterTheirTTL(t *testing.T) {
	t.Parallel()
	d := newDash(t, func(c *web.Config) { c.SessionTTL = time.Hour })
	d.signedIn()
	d.clk.Advance(59 * time.Minute)
	if a := d.do(d.client, "GET", "/tenants", nil); a.code != http.StatusOK {
		t.Fatalf("within the TTL: %d", a.code)
	}
	d.clk.Advance(time.Minute)
	if a := d.do(d.client, "GET", "/tenants", nil); a.code != http.StatusSeeOther {
		t.Fatalf("at the TTL: %d, want 303 to the sign-in form", a.code)
	}
}

func TestSessions_TheOldestEndsPastTheBound(t *testing.T) {
	t.Parallel()
	d := newDash(t, func(c *web.Config) { c.MaxSessions = 2 })
	first, second, third := d.newClient(), d.newClient(), d.newClient()
	for _, c := range []*http.Client{first, second, third} {
		d.signIn(c, adminKey)
		d.clk.Advance(time.Second)
	}
	if a := d.do(first, "GET", "/tenants", nil); a.code != http.StatusSeeOther {
		t.Errorf("the oldest of three sessions with room for two: %d, want signed out", a.code)
	}
	for _, c := range []*http.Client{second, third} {
		if a := d.do(c, "GET", "/tenants", nil); a.code != http.StatusOK {
			t.Errorf("a newer session: %d, want 200", a.code)
		}
	}
}

func TestCookies_AreSecureOverTLSAndBehindATrustedProxy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		trust  bool
		tls    bool
		header string
		want   bool
	}{
		{"plain HTTP", false, false, "", false},
		{"TLS", false, true, "", true},
		{"an untrusted X-Forwarded-Proto", false, false, "https", false},
		{"a trusted X-Forwarded-Proto", true, false, "https", true},
		{"a trusted proxy on plain HTTP", true, false, "http", false},
	} {
		d := newDash(t, func(c *web.Config) { c.TrustForwardedProto = tc.trust })
		r := httptest.NewRequest("GET", "/signin", nil)
		if tc.tls {
			r.TLS = &tls.ConnectionState{}
		}
		if tc.header != "" {
			r.Header.Set("X-Forwarded-Proto", tc.header)
		}
		w := httptest.NewRecorder()
		d.h.ServeHTTP(w, r)
		cs := w.Result().Cookies()
		if len(cs) != 1 || cs[0].Secure != tc.want {
			t.Errorf("%s: cookies %+v, want one with Secure %v", tc.name, cs, tc.want)
		}
	}
}

func TestPages_CarryTheSecurityHeadersAndRefuseBadInput(t *testing.T) {
	t.Parallel()
	d := newDash(t)
	tok := d.signedIn()
	d.do(d.client, "POST", "/tenants", url.Values{"id": {"acme"}, "csrf": {tok}})
	if _, _, err := eventtype.NewService(&eventtype.Config{Store: d.st}).Put(context.Background(), &eventtype.Params{
		Name: "user.created", Description: new("A user signed up"), Schema: json.RawMessage(`{"type":"object","required":["id"]}`),
	}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		code int
	}{
		{"/", 200},
		{"/tenants", 200},
		{"/tenants/acme", 200},
		{"/tenants/acme/deliveries?status=failed", 200},
		{"/tenants/acme/events?type=user.created", 200},
		{"/tenants/nobody", 404},
		{"/tenants/acme/deliveries/dlv_nope", 404},
		{"/tenants/acme/endpoints/ep_nope", 404},
		{"/tenants/acme/events/evt_nope", 404},
		{"/tenants/acme/deliveries?status=lost", 422},
		{"/tenants?cursor=not-a-cursor", 422},
		{"/tenants/acme/deliveries?cursor=AQ", 422},
		{"/tenants/acme/nothing-here", 404},
		{"/formats", 200},
		{"/formats/standard-webhooks", 200},
		{"/formats/no-such-format", 404},
		{"/event-types", 200},
		{"/event-types/user.created", 200},
		{"/event-types/no.such.type", 404},
	} {
		a := d.do(d.client, "GET", tc.path, nil)
		if a.code != tc.code {
			t.Errorf("GET %s: %d, want %d\n%s", tc.path, a.code, tc.code, a.body)
		}
		if csp := a.h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe") {
			t.Errorf("GET %s: CSP %q", tc.path, csp)
		}
		if a.h.Get("X-Content-Type-Options") != "nosniff" || !strings.HasPrefix(a.h.Get("Content-Type"), "text/html") {
			t.Errorf("GET %s: headers %v", tc.path, a.h)
		}
		if strings.Contains(a.body, "<script>") || strings.Contains(a.body, " style=") || strings.Contains(a.body, "<style") {
			t.Errorf("GET %s: inline script or style in the page", tc.path)
		}
	}
	if a := d.do(d.client, "GET", "/event-types/user.created", nil); !strings.Contains(a.body, "A user signed up") || !strings.Contains(a.body, "&#34;required&#34;") {
		t.Errorf("the event type page does not show its description and schema:\n%s", a.body)
	}
	if a := d.do(d.client, "GET", "/formats/standard-webhooks", nil); !strings.Contains(a.body, "&#34;schedule&#34;") {
		t.Errorf("the format page does not show the definition with its defaults:\n%s", a.body)
	}
	js := d.do(d.client, "GET", "/static/htmx-2.0.11.min.js", nil)
	if js.code != 200 || !strings.Contains(js.h.Get("Content-Type"), "javascript") || !strings.Contains(js.body, "htmx") {
		t.Errorf("the embedded htmx: %d %s", js.code, js.h.Get("Content-Type"))
	}
}

// The server serves the dashboard at its own paths and leaves every other
// one to the API, as before.
func TestServer_MountsTheDashboardBesideTheAPI(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct {
		path, contentType string
		code              int
	}{
		{"/", "text/html", http.StatusSeeOther},
		{"/signin", "text/html", http.StatusOK},
		{"/static/app.css", "text/css", http.StatusOK},
		{"/nothing-here", "application/problem+json", http.StatusNotFound},
		{"/api/v1/tenants", "application/problem+json", http.StatusUnauthorized},
		{"/healthz", "application/json", http.StatusOK},
	} {
		resp, err := c.Get(srv.base + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.contentType) {
			t.Errorf("GET %s: %d %s, want %d %s", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.code, tc.contentType)
		}
	}
}

// An endpoint's page lists every replaced secret still signing, each until
// its own end, and never a secret's value.
func TestEndpointPage_ShowsTheSecretsStillSigning(t *testing.T) {
	t.Parallel()
	d := newDash(t)
	tok := d.signedIn()
	d.do(d.client, "POST", "/tenants", url.Values{"id": {"acme"}, "csrf": {tok}})
	now := d.clk.Now()
	ep, err := d.st.EndpointCreate(context.Background(), &store.Endpoint{
		TenantID: "acme", URL: "https://example.com/hook", Events: []string{"*"}, Enabled: true, Secret: "whsec_current_value",
		PreviousSecrets: []store.PreviousSecret{
			{Secret: "whsec_previous_value", ReplacedAt: now, ExpiresAt: now.Add(time.Hour)},
			{Secret: "whsec_earlier_value", ReplacedAt: now.Add(-time.Hour), ExpiresAt: now.Add(20 * time.Hour)},
			{Secret: "whsec_expired_value", ReplacedAt: now.Add(-48 * time.Hour), ExpiresAt: now.Add(-time.Hour)},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	a := d.do(d.client, "GET", "/tenants/acme/endpoints/"+ep.ID, nil)
	if a.code != 200 {
		t.Fatalf("GET the endpoint page: %d\n%s", a.code, a.body)
	}
	if n := strings.Count(a.body, "signs too until"); n != 2 {
		t.Errorf("the page lists %d previous secrets, want the 2 still signing:\n%s", n, a.body)
	}
	if strings.Contains(a.body, "_value") {
		t.Errorf("the page shows a secret's value:\n%s", a.body)
	}
}
