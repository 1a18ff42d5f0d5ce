package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/verify"
)

const adminKey = "hk_dashboard_test_admin_key_0123456789abc"

// chromium finds Debian's Chromium. A test that needs it fails in CI
// (CI=true), where .ci/setup installs it, and skips elsewhere.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed; .ci/setup installs it (apt-get install -y chromium)")
	}
	t.Skip("chromium is not installed (apt-get install -y chromium); skipping the browser tests")
	return ""
}

// server is Herald running in process, with the engine, on a fresh SQLite
// file, allowed to deliver to this machine's receivers.
type server struct {
	base string
}

func startServer(t *testing.T, configure ...func(*app.Config)) *server {
	t.Helper()
	cfg := &app.Config{
		Addr: "127.0.0.1:0", DatabaseURL: "sqlite:" + filepath.Join(t.TempDir(), "herald.db"),
		AdminKey: adminKey, AllowPrivateDestinations: true,
	}
	for _, c := range configure {
		c(cfg)
	}
	m := app.NewMain(cfg, slog.New(slog.DiscardHandler))
	if err := m.Open(context.Background()); err != nil {
		m.Close()
		t.Fatalf("server did not start: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := errors.Join(<-done, m.Close()); err != nil {
			t.Errorf("server: %v", err)
		}
	})
	return &server{base: "http://" + m.Addr()}
}

// api makes an admin API call and decodes the answer into out (when not nil).
func (s *server) api(t *testing.T, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

// receiver is a webhook receiver that answers with the status it is set
// to and keeps every request.
type receiver struct {
	*httptest.Server
	status atomic.Int32
	mu     sync.Mutex
	got    []*http.Request
	bodies [][]byte
}

func newReceiver(t *testing.T, status int) *receiver {
	rc := &receiver{}
	rc.status.Store(int32(status))
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got, rc.bodies = append(rc.got, r), append(rc.bodies, b)
		rc.mu.Unlock()
		code := int(rc.status.Load())
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"answered":%d}`, code)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) last(t *testing.T) (*http.Request, []byte) {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.got) == 0 {
		t.Fatal("the receiver got no request")
	}
	return rc.got[len(rc.got)-1], rc.bodies[len(rc.bodies)-1]
}

// browser is one headless Chromium for a test; each tab opens in a
// browser context of its own (its own cookies), as a fresh browser would.
type browser struct {
	t     *testing.T
	alloc context.Context
	root  context.Context
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	root, cancelRoot := chromedp.NewContext(alloc)
	if err := chromedp.Do(root); err != nil {
		cancelRoot()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() { cancelRoot(); cancelAlloc() })
	return &browser{t: t, alloc: alloc, root: root}
}

// tab is one page in a fresh browser context. Every CSP violation and
// script error it logs fails the test.
type tab struct {
	t   *testing.T
	ctx context.Context
	mu  sync.Mutex
	bad []string
}

func (b *browser) tab(t *testing.T) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.root, chromedp.WithNewBrowserContext())
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		t.Fatalf("open tab: %v", err)
	}
	tb := &tab{t: t, ctx: ctx}
	msgs := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range msgs {
			if err != nil {
				return
			}
			// An answer of 4xx is the page telling a user no, not a fault.
			if (m.Type == chromedp.ConsoleError || m.IsException()) && !strings.Contains(m.Text, "status of 4") {
				tb.mu.Lock()
				tb.bad = append(tb.bad, m.String())
				tb.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		tb.mu.Lock()
		defer tb.mu.Unlock()
		for _, m := range tb.bad {
			t.Errorf("the browser logged an error: %s", m)
		}
	})
	return tb
}

// run runs browser steps, each within a minute.
func (tb *tab) run(steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.t.Fatalf("browser: %v", err)
	}
}

// get runs one browser action that returns a value.
func get[T any](tb *tab, a chromedp.Action[T]) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		tb.t.Fatalf("browser: %v", err)
	}
	return v
}

func (tb *tab) text(sel string) string {
	tb.t.Helper()
	return get(tb, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
}

func (tb *tab) location() string {
	tb.t.Helper()
	return get(tb, chromedp.Location())
}

// exists reports whether sel matches anything on the page now.
func (tb *tab) exists(sel string) bool {
	tb.t.Helper()
	return get(tb, chromedp.Evaluate[bool](fmt.Sprintf(`document.querySelector(%q) !== null`, sel)))
}

// navigating reports whether err is the page going away under an action:
// the page it ran in navigated, and the next one is on its way.
func navigating(err error) bool {
	return strings.Contains(err.Error(), "navigated or closed") || strings.Contains(err.Error(), "Cannot find context with specified id")
}

// waitText waits until sel's text contains want: the page changes by
// itself (htmx polling) or is on its way to the next one, so the test
// waits for it as a person would, for up to 30 seconds.
func (tb *tab) waitText(sel, want string) {
	tb.t.Helper()
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.textContent.includes(%q); })()`, sel, want)
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	for {
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](js, chromedp.WithPollingInterval(100*time.Millisecond)))
		switch {
		case err == nil:
			return
		case ctx.Err() != nil:
			tb.t.Fatalf("%s never showed %q", sel, want)
		case !navigating(err):
			tb.t.Fatalf("browser: wait for %q in %s: %v", want, sel, err)
		}
	}
}

func (tb *tab) signIn(base string) {
	tb.t.Helper()
	tb.run(
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="key"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="key"]`), adminKey),
		chromedp.Submit(chromedp.CSS(`input[name="key"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#finished-h`)),
	)
	if h := tb.text("h1"); h != "Overview" {
		tb.t.Fatalf("after sign-in the page is %q, want the overview", h)
	}
}

// screenshot saves the page under docs/img when HERALD_SCREENSHOTS is set
// (how the README's pictures are made), at a desktop and a phone width.
func (tb *tab) screenshot(name string) {
	tb.t.Helper()
	if os.Getenv("HERALD_SCREENSHOTS") == "" {
		return
	}
	for _, size := range []struct {
		suffix string
		w, h   int64
		mobile bool
	}{{"", 1280, 900, false}, {"-phone", 390, 844, true}} {
		opts := []chromedp.EmulateViewportOption{chromedp.EmulatePortrait}
		if size.mobile {
			opts = append(opts, chromedp.EmulateMobile)
		}
		tb.run(chromedp.EmulateViewport(size.w, size.h, opts...))
		buf := get(tb, chromedp.FullScreenshot(100))
		tb.run(chromedp.ResetViewport())
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "img", "dashboard-"+name+size.suffix+".png"), buf, 0o644); err != nil {
			tb.t.Fatal(err)
		}
	}
}

// The dashboard in a real browser: signing in, an endpoint whose secret is
// shown once, a test send and its attempt, a failed delivery retried, and
// the same flow by keyboard alone. The subtests share one server and one
// Chromium and run one after the other (two cores, one browser).
func TestBrowser(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	b := newBrowser(t)

	t.Run("SignIn", func(t *testing.T) { testSignIn(t, srv, b) })
	t.Run("EndpointSecretShownOnceAndTestSend", func(t *testing.T) { testEndpointAndTestSend(t, srv, b) })
	t.Run("FailedDeliveryRetried", func(t *testing.T) { testFailAndRetry(t, srv, b) })
	t.Run("KeyboardOnly", func(t *testing.T) { testKeyboard(t, srv, b) })
	t.Run("FormatEditedFaultsBesideFields", func(t *testing.T) { testFormatEdit(t, srv, b) })
}

// faultBeside reports whether the .field around the input id holds the
// element errID, and the input is described by it and marked invalid: the
// fault is shown beside its field and tied to it.
func (tb *tab) faultBeside(id, errID string) bool {
	tb.t.Helper()
	return get(tb, chromedp.Evaluate[bool](fmt.Sprintf(`(() => { const i = document.getElementById(%q), e = document.getElementById(%q);
		return !!i && !!e && i.closest(".field").contains(e) && i.getAttribute("aria-invalid") === "true" &&
			(i.getAttribute("aria-describedby") || "").split(" ").includes(%q); })()`, id, errID, errID)))
}

func testFormatEdit(t *testing.T, srv *server, b *browser) {
	if code := srv.api(t, "PUT", "/api/v1/formats/acme-v2", map[string]any{
		"signature": map[string]any{"scheme": "timestamped", "header": "X-Acme-Signature"},
		"retry":     map[string]any{"schedule": []string{"5s", "1m"}},
	}, nil); code != 201 {
		t.Fatalf("PUT format: %d", code)
	}
	tb := b.tab(t)
	tb.signIn(srv.base)
	tb.run(chromedp.Navigate(srv.base+"/formats/acme-v2"), chromedp.WaitVisible(chromedp.CSS(`#edit-format`)))
	tb.run(chromedp.Click(chromedp.CSS(`#edit-format`)), chromedp.WaitVisible(chromedp.CSS(`#fmt-schedule`)))
	if v := get(tb, chromedp.Value(chromedp.CSS(`#fmt-schedule`))); v != "5s, 1m" {
		t.Fatalf("the schedule field holds %q, want the format's 5s, 1m", v)
	}

	// A delay that is not one, and a header Herald sets itself.
	tb.run(
		chromedp.Clear(chromedp.CSS(`#fmt-schedule`)),
		chromedp.SendKeys(chromedp.CSS(`#fmt-schedule`), "5s, soon"),
		chromedp.SendKeys(chromedp.CSS(`#fmt-header-0-name`), "Content-Type"),
		chromedp.SendKeys(chromedp.CSS(`#fmt-header-0-value`), "text/plain"),
		chromedp.Submit(chromedp.CSS(`#fmt-schedule`)),
		chromedp.WaitVisible(chromedp.CSS(`#fmt-schedule-err`)),
	)
	if msg := tb.text("#fmt-schedule-err"); !strings.Contains(msg, "delay 2") || !strings.Contains(msg, "soon") {
		t.Errorf("beside the schedule: %q, want the second delay named", msg)
	}
	if !tb.faultBeside("fmt-schedule", "fmt-schedule-err") {
		t.Error("the schedule's fault is not beside it, or not tied to it")
	}
	if msg := tb.text("#fmt-header-0-err"); !strings.Contains(msg, "set by Herald") {
		t.Errorf("beside the header: %q", msg)
	}
	if v := get(tb, chromedp.Value(chromedp.CSS(`#fmt-schedule`))); v != "5s, soon" {
		t.Errorf("the refused form holds %q, want what was typed", v)
	}
	tb.screenshot("format-edit")

	// Fixed, it is saved.
	tb.run(
		chromedp.Clear(chromedp.CSS(`#fmt-schedule`)),
		chromedp.SendKeys(chromedp.CSS(`#fmt-schedule`), "5s, 2m"),
		chromedp.Clear(chromedp.CSS(`#fmt-header-0-name`)),
		chromedp.SendKeys(chromedp.CSS(`#fmt-header-0-name`), "X-Acme-Version"),
		chromedp.Clear(chromedp.CSS(`#fmt-header-0-value`)),
		chromedp.SendKeys(chromedp.CSS(`#fmt-header-0-value`), "2"),
		chromedp.Submit(chromedp.CSS(`#fmt-schedule`)),
		chromedp.WaitVisible(chromedp.CSS(`#format-definition`)),
	)
	tb.waitText(".flash-ok", "saved")
	var got struct {
		Retry   struct{ Schedule []string }
		Headers map[string]string
	}
	srv.api(t, "GET", "/api/v1/formats/acme-v2", nil, &got)
	if strings.Join(got.Retry.Schedule, ",") != "5s,2m" || got.Headers["X-Acme-Version"] != "2" {
		t.Errorf("the saved format: %+v, want the schedule 5s, 2m and the header", got)
	}
}

func testSignIn(t *testing.T, srv *server, b *browser) {
	tb := b.tab(t)
	tb.run(chromedp.Navigate(srv.base + "/tenants"))
	if loc := tb.location(); !strings.HasPrefix(loc, srv.base+"/signin?next=") {
		t.Fatalf("signed out, /tenants went to %s, want the sign-in form", loc)
	}
	if typ := get(tb, chromedp.AttributeValue(chromedp.CSS(`input[name="key"]`), "type")).Value; typ != "password" {
		t.Errorf("the key field is type %q, want password", typ)
	}
	tb.screenshot("signin")

	// A wrong key is refused on the form.
	tb.run(
		chromedp.SendKeys(chromedp.CSS(`#key`), "hk_not_a_key_of_this_server"),
		chromedp.Submit(chromedp.CSS(`#key`)),
		chromedp.WaitVisible(chromedp.CSS(`#signin-error`)),
	)
	if msg := tb.text("#signin-error"); !strings.Contains(msg, "not an API key") {
		t.Errorf("a wrong key says %q", msg)
	}

	tb.run(
		chromedp.SendKeys(chromedp.CSS(`#key`), adminKey),
		chromedp.Submit(chromedp.CSS(`#key`)),
		chromedp.WaitVisible(chromedp.CSS(`#new-tenant-h`)),
	)
	if loc := tb.location(); loc != srv.base+"/tenants" {
		t.Errorf("after sign-in the browser is at %s, want back at /tenants", loc)
	}
	res, err := chromedp.Call(tb.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{srv.base}})
	if err != nil {
		t.Fatal(err)
	}
	var sess *network.Cookie
	for _, c := range res.Cookies {
		if c.Name == "herald_session" {
			sess = c
		}
	}
	if sess == nil || !sess.HTTPOnly || sess.SameSite != network.CookieSameSiteStrict {
		t.Fatalf("session cookie %+v, want HttpOnly and SameSite=Strict", sess)
	}

	// Signing out ends the session: the old cookie opens nothing.
	tb.run(chromedp.Click(chromedp.CSS(`form.signout button`)), chromedp.WaitVisible(chromedp.CSS(`#key`)))
	req, _ := http.NewRequest("GET", srv.base+"/tenants", nil)
	req.AddCookie(&http.Cookie{Name: sess.Name, Value: sess.Value})
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/signin") {
		t.Errorf("the signed-out cookie got %d to %q, want 303 to the sign-in form", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// createTenant fills in the new-tenant form and lands on the tenant's page.
func (tb *tab) createTenant(base, id string) {
	tb.t.Helper()
	tb.run(
		chromedp.Navigate(base+"/tenants"),
		chromedp.SendKeys(chromedp.CSS(`#tenant-id`), id),
		chromedp.SendKeys(chromedp.CSS(`#tenant-name`), "Tenant "+id),
		chromedp.Submit(chromedp.CSS(`#tenant-id`)),
		chromedp.WaitVisible(chromedp.CSS(`#new-endpoint-h`)),
	)
}

// createEndpoint fills in the new-endpoint form on the tenant's page and
// returns the secret the next page shows.
func (tb *tab) createEndpoint(url, format string) string {
	tb.t.Helper()
	tb.run(chromedp.SendKeys(chromedp.CSS(`#ep-url`), url))
	if format != "" {
		tb.run(chromedp.SetValue(chromedp.CSS(`#ep-format`), format))
	}
	tb.run(chromedp.Submit(chromedp.CSS(`#ep-url`)), chromedp.WaitVisible(chromedp.CSS(`#secret`)))
	return tb.text("#secret")
}

func testEndpointAndTestSend(t *testing.T, srv *server, b *browser) {
	rc := newReceiver(t, http.StatusOK)
	tb := b.tab(t)
	tb.signIn(srv.base)
	tb.createTenant(srv.base, "acme")

	// A URL the endpoint rules refuse is shown next to its field.
	tb.run(
		chromedp.SendKeys(chromedp.CSS(`#ep-url`), "ftp://example.com/hook"),
		chromedp.Submit(chromedp.CSS(`#ep-url`)),
		chromedp.WaitVisible(chromedp.CSS(`#ep-url-err`)),
	)
	if invalid := get(tb, chromedp.AttributeValue(chromedp.CSS(`#ep-url`), "aria-invalid")).Value; invalid != "true" {
		t.Errorf("the refused URL field has aria-invalid %q", invalid)
	}
	tb.run(chromedp.Clear(chromedp.CSS(`#ep-url`)))

	secret := tb.createEndpoint(rc.URL+"/hook", "")
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("the page shows the secret %q, want a whsec_ secret", secret)
	}
	endpointURL := tb.location()
	tb.screenshot("endpoint-created")
	// Shown once: the same page again has no secret on it.
	tb.run(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#test-h`)))
	if tb.exists("#secret") {
		t.Fatal("the secret is shown again on reload")
	}
	if html := get(tb, chromedp.OuterHTML(chromedp.CSS("html"))); strings.Contains(html, secret) {
		t.Fatal("the page holds the secret after it was shown once")
	}

	// The test send answers in place, without leaving the page.
	tb.run(chromedp.Click(chromedp.CSS(`#test-h + form button`)), chromedp.WaitVisible(chromedp.CSS(`#test-outcome`)))
	if got := tb.text("#test-outcome"); !strings.Contains(got, "delivered") || !strings.Contains(got, "200") {
		t.Errorf("test result %q, want delivered with 200", got)
	}
	if loc := tb.location(); loc != endpointURL {
		t.Errorf("the test send left the page for %s", loc)
	}
	tb.screenshot("endpoint")
	// It was signed with the secret the page showed.
	req, body := rc.last(t)
	v, err := verify.NewStandard([]string{secret})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(body, req.Header); err != nil {
		t.Fatalf("the test delivery does not verify with the secret shown: %v", err)
	}

	// Its attempt: the request headers with the signature elided, the body
	// sent and the receiver's answer.
	tb.run(chromedp.Click(chromedp.CSS(`#test-outcome a`)), chromedp.WaitVisible(chromedp.CSS(`.attempt`)))
	tb.run(chromedp.Click(chromedp.CSS(`.attempt summary`)))
	att := tb.text(".attempt")
	for _, want := range []string{"Attempt 1", "200", "Webhook-Signature", "(signature elided)", `"answered":200`, "This is a test event from Herald"} {
		if !strings.Contains(att, want) {
			t.Errorf("the attempt shows %q, want %q in it", att, want)
		}
	}
	if sig := req.Header.Get("Webhook-Signature"); strings.Contains(att, strings.TrimPrefix(sig, "v1,")) {
		t.Error("the attempt shows the signature value")
	}
	tb.screenshot("delivery")
}

func testFailAndRetry(t *testing.T, srv *server, b *browser) {
	// A format that never retries: the first 500 fails the delivery.
	if code := srv.api(t, "PUT", "/api/v1/formats/no-retry", map[string]any{"retry": map[string]any{"schedule": []string{}}}, nil); code != 201 {
		t.Fatalf("PUT format: %d", code)
	}
	rc := newReceiver(t, http.StatusInternalServerError)
	tb := b.tab(t)
	tb.signIn(srv.base)
	tb.createTenant(srv.base, "globex")
	tb.createEndpoint(rc.URL+"/hook", "no-retry")

	var ev struct{ ID string }
	if code := srv.api(t, "POST", "/api/v1/tenants/globex/events", map[string]any{"type": "invoice.paid", "data": map[string]any{"n": 1}}, &ev); code != 202 {
		t.Fatalf("POST event: %d", code)
	}
	// The list refreshes itself until the delivery has failed.
	tb.run(chromedp.Navigate(srv.base + "/tenants/globex/deliveries"))
	tb.waitText("#delivery-table tbody", "failed")
	tb.screenshot("deliveries")

	// The dead-letter view lists it.
	// (The format's failure event, sent to the same endpoint, fails too.)
	tb.run(chromedp.Navigate(srv.base+"/tenants/globex/deliveries?status=failed&event="+ev.ID), chromedp.WaitVisible(chromedp.CSS(`#delivery-table tbody a`)))
	tb.run(chromedp.Click(chromedp.CSS(`#delivery-table tbody td:first-child a`)), chromedp.WaitVisible(chromedp.CSS(`#retry`)))
	if got := tb.text(".attempt h3"); !strings.Contains(got, "500") {
		t.Errorf("the failed attempt shows %q, want the 500", got)
	}

	// The receiver is fixed; one click retries, and the page follows the
	// delivery until it is delivered.
	rc.status.Store(http.StatusOK)
	tb.run(chromedp.Click(chromedp.CSS(`#retry`)), chromedp.WaitVisible(chromedp.CSS(`#delivery-status`)))
	tb.waitText("#delivery-status", "delivered")
	if got := tb.text("#attempts-h + .attempt h3, #attempts-h ~ .attempt h3"); !strings.Contains(got, "Attempt 2") || !strings.Contains(got, "200") {
		t.Errorf("the newest attempt shows %q, want attempt 2 answered 200", got)
	}
	tb.screenshot("delivery-retried")
	tb.run(chromedp.Navigate(srv.base+"/tenants/globex"), chromedp.WaitVisible(chromedp.CSS(`#endpoints-h`)))
	tb.screenshot("tenant")
}

// focus is the element that has the keyboard focus, as tag#id.class, and
// whether it shows a focus outline.
func (tb *tab) focus() (string, bool) {
	tb.t.Helper()
	type focused struct {
		Desc    string `json:"desc"`
		Outline bool   `json:"outline"`
	}
	res := get(tb, chromedp.Evaluate[focused](`(() => { const e = document.activeElement; const s = getComputedStyle(e);
		return {desc: e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.getAttribute("href") ? "[" + e.getAttribute("href") + "]" : "") + " " + e.textContent.trim().slice(0, 40),
		        outline: s.outlineStyle !== "none" && parseFloat(s.outlineWidth) >= 2}; })()`))
	return res.Desc, res.Outline
}

// tabTo presses Tab until the focused element matches want (a substring of
// focus's description), and fails if it is not reached in 40 presses: it
// cannot be reached by keyboard.
func (tb *tab) tabTo(want string) {
	tb.t.Helper()
	var seen []string
	for range 40 {
		tb.run(chromedp.KeyEvent("\t"))
		desc, outline := tb.focus()
		if strings.Contains(desc, want) {
			if !outline {
				tb.t.Errorf("%s has the focus but shows no focus outline", desc)
			}
			return
		}
		seen = append(seen, desc)
	}
	tb.t.Fatalf("Tab never reached %q; it went through %q", want, seen)
}

func (tb *tab) typeKeys(s string) { tb.t.Helper(); tb.run(chromedp.KeyEvent(s)) }

// enter presses Enter, which may send a form: the page it was pressed on
// can be gone before the key is released.
func (tb *tab) enter() {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.KeyEvent("\r")); err != nil && !navigating(err) {
		tb.t.Fatalf("browser: press Enter: %v", err)
	}
}

func testKeyboard(t *testing.T, srv *server, b *browser) {
	rc := newReceiver(t, http.StatusOK)
	tb := b.tab(t)
	tb.run(chromedp.Navigate(srv.base+"/"), chromedp.WaitVisible(chromedp.CSS(`#key`)))
	// The key field has the focus from the start.
	if desc, _ := tb.focus(); !strings.HasPrefix(desc, "input#key") {
		t.Fatalf("the sign-in form starts with the focus on %s, want the key field", desc)
	}
	tb.typeKeys(adminKey)
	tb.enter()
	tb.run(chromedp.WaitVisible(chromedp.CSS(`#finished-h`)))

	// From the overview to the tenants, by the main menu.
	tb.tabTo("a[/tenants] Tenants")
	tb.enter()
	tb.run(chromedp.WaitVisible(chromedp.CSS(`#new-tenant-h`)))
	// The first Tab reaches the skip link, which moves to the content.
	tb.tabTo("Skip to content")
	tb.enter()
	tb.tabTo("input#tenant-id")
	tb.typeKeys("initech")
	tb.tabTo("input#tenant-name")
	tb.typeKeys("Initech")
	tb.enter()
	tb.run(chromedp.WaitVisible(chromedp.CSS(`#new-endpoint-h`)))

	tb.tabTo("input#ep-url")
	tb.typeKeys(rc.URL + "/hook")
	tb.enter()
	tb.run(chromedp.WaitVisible(chromedp.CSS(`#secret`)))

	tb.tabTo("Send test event")
	tb.enter()
	tb.run(chromedp.WaitVisible(chromedp.CSS(`#test-outcome`)))
	if got := tb.text("#test-outcome"); !strings.Contains(got, "delivered") {
		t.Fatalf("test result %q, want delivered", got)
	}
	// Into the delivery it made, and to its retry button.
	tb.tabTo("[/tenants/initech/deliveries/dlv_")
	tb.enter()
	tb.run(chromedp.WaitVisible(chromedp.CSS(`#retry`)))
	tb.tabTo("button#retry")
	tb.enter()
	tb.waitText(".flash-ok", "Retry queued")
	tb.waitText("#delivery-status", "delivered")
}
