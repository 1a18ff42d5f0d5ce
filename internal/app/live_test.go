package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/app"
)

// live is a Herald server running in-process on a real port, with the
// engine, over a real database.
type live struct {
	t    *testing.T
	base string
	key  string
}

const liveAdminKey = "hk_live_admin_key_0123456789abcdefghij"

func startLive(t *testing.T, dbURL string) *live {
	t.Helper()
	if dbURL == "" {
		dbURL = "sqlite:" + filepath.Join(t.TempDir(), "herald.db")
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, &app.Config{
			Addr: "127.0.0.1:0", DatabaseURL: dbURL, AdminKey: liveAdminKey,
			AllowPrivateDestinations: true, Ready: ready,
		}, slog.New(slog.DiscardHandler))
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	select {
	case addr := <-ready:
		return &live{t: t, base: "http://" + addr, key: liveAdminKey}
	case err := <-done:
		t.Fatalf("server did not start: %v", err)
	}
	return nil
}

// do makes an API call and returns the status and the decoded JSON answer.
func (l *live) do(method, path string, body any) (int, map[string]any) {
	l.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			l.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, l.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+l.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		l.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &out)
	}
	return resp.StatusCode, out
}

// must is do that fails the test unless the status is want.
func (l *live) must(want int, method, path string, body any) map[string]any {
	l.t.Helper()
	code, out := l.do(method, path, body)
	if code != want {
		l.t.Fatalf("%s %s: got %d, want %d: %v", method, path, code, want, out)
	}
	return out
}

// TestServe_LoadsFormatsFile: --formats loads definitions at start.
func TestServe_LoadsFormatsFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "formats.yaml")
	if err := os.WriteFile(path, []byte("name: from-file\nsignature:\n  scheme: body\n  header: X-Sig\nretry:\n  schedule: [1s]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, &app.Config{
			Addr: "127.0.0.1:0", DatabaseURL: "sqlite:" + filepath.Join(dir, "h.db"), AdminKey: liveAdminKey,
			FormatsFile: path, DefaultFormat: "from-file", Ready: ready,
		}, slog.New(slog.DiscardHandler))
	}()
	defer func() { cancel(); <-done }()
	var l *live
	select {
	case addr := <-ready:
		l = &live{t: t, base: "http://" + addr, key: liveAdminKey}
	case err := <-done:
		t.Fatalf("server: %v", err)
	}
	f := l.must(http.StatusOK, "GET", "/api/v1/formats/from-file", nil)
	if sig := f["signature"].(map[string]any); sig["scheme"] != "body" || sig["header"] != "X-Sig" {
		t.Errorf("loaded format = %v", f)
	}
	// It is the default (--default-format): an endpoint that names none uses it.
	l.must(http.StatusCreated, "POST", "/api/v1/tenants", map[string]any{"id": "acme"})
	ep := l.must(http.StatusCreated, "POST", "/api/v1/tenants/acme/endpoints", map[string]any{"url": "https://93.184.216.34/hook"})
	if ep["format"] != "from-file" {
		t.Errorf("endpoint format = %v, want the default from-file", ep["format"])
	}
	// An unknown default format stops the server from starting.
	err := app.Run(context.Background(), &app.Config{Addr: "127.0.0.1:0", DatabaseURL: "sqlite:" + filepath.Join(dir, "h3.db"), DefaultFormat: "nope"}, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown default format: err = %v", err)
	}

	// A bad file stops the server from starting, with the field named.
	bad := filepath.Join(dir, "bad.json")
	_ = os.WriteFile(bad, []byte(`{"name":"x","retry":{"schedule":["soon"]}}`), 0o600)
	err = app.Run(context.Background(), &app.Config{Addr: "127.0.0.1:0", DatabaseURL: "sqlite:" + filepath.Join(dir, "h2.db"), FormatsFile: bad}, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "retry.schedule[0]") {
		t.Errorf("bad formats file: err = %v, want one naming retry.schedule[0]", err)
	}
}

// TestServe_RefusesInternalDestinationsByDefault: without
// --allow-private-destinations the running server refuses endpoints whose
// URL is or names an internal address.
func TestServe_RefusesInternalDestinationsByDefault(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, &app.Config{Addr: "127.0.0.1:0", DatabaseURL: "sqlite:" + filepath.Join(dir, "h.db"), AdminKey: liveAdminKey, Ready: ready},
			slog.New(slog.DiscardHandler))
	}()
	defer func() { cancel(); <-done }()
	l := &live{t: t, base: "http://" + <-ready, key: liveAdminKey}
	l.must(http.StatusCreated, "POST", "/api/v1/tenants", map[string]any{"id": "acme"})
	for _, u := range []string{"http://127.0.0.1:9000/", "http://localhost/", "http://169.254.169.254/latest/meta-data/", "http://10.1.2.3/", "http://[::1]/", "http://100.64.0.1/"} {
		code, out := l.do("POST", "/api/v1/tenants/acme/endpoints", map[string]any{"url": u})
		errs, _ := out["errors"].([]any)
		if code != http.StatusUnprocessableEntity || len(errs) == 0 || errs[0].(map[string]any)["location"] != "body.url" {
			t.Errorf("endpoint %s: %d %v, want 422 at body.url", u, code, out)
		}
	}
	l.must(http.StatusCreated, "POST", "/api/v1/tenants/acme/endpoints", map[string]any{"url": "https://93.184.216.34/hooks"})
}

// TestServe_NameResolvingToLoopbackIsRefused: a host name (not an address)
// that resolves to an internal address is refused, with the field named once.
func TestServe_NameResolvingToLoopbackIsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, &app.Config{Addr: "127.0.0.1:0", DatabaseURL: "sqlite:" + filepath.Join(dir, "h.db"), AdminKey: liveAdminKey, Ready: ready},
			slog.New(slog.DiscardHandler))
	}()
	defer func() { cancel(); <-done }()
	l := &live{t: t, base: "http://" + <-ready, key: liveAdminKey}
	l.must(http.StatusCreated, "POST", "/api/v1/tenants", map[string]any{"id": "acme"})
	// "localhost." (with the root dot) resolves through the resolver, unlike
	// the special-cased "localhost".
	code, out := l.do("POST", "/api/v1/tenants/acme/endpoints", map[string]any{"url": "http://localhost.:9000/"})
	errs, _ := out["errors"].([]any)
	if code != http.StatusUnprocessableEntity || len(errs) != 1 || errs[0].(map[string]any)["location"] != "body.url" {
		t.Fatalf("got %d %v, want one 422 error at body.url", code, out)
	}
}
