package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

// runServer runs Herald in-process with cfg until the test ends, filling in
// what cfg leaves empty: a free port, a fresh SQLite file, liveAdminKey and
// a discarding logger. stop ends it early and returns Run's error.
func runServer(tb testing.TB, cfg *app.Config, log *slog.Logger) (l *live, stop func() error) {
	tb.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.DatabaseURL == "" {
		cfg.DatabaseURL = "sqlite:" + filepath.Join(tb.TempDir(), "herald.db")
	}
	if cfg.AdminKey == "" {
		cfg.AdminKey = liveAdminKey
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := app.NewMain(cfg, log)
	if err := m.Open(context.Background()); err != nil {
		m.Close()
		tb.Fatalf("server did not start: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() { cancel(); runErr = errors.Join(<-done, m.Close()) })
		return runErr
	}
	tb.Cleanup(func() {
		if err := stop(); err != nil {
			tb.Errorf("server: %v", err)
		}
	})
	t, _ := tb.(*testing.T)
	return &live{t: t, base: "http://" + m.Addr(), key: cfg.AdminKey}, stop
}

// startLive runs a server that may deliver to this machine's receivers.
func startLive(t *testing.T, dbURL string) *live {
	t.Helper()
	l, _ := runServer(t, &app.Config{DatabaseURL: dbURL, AllowPrivateDestinations: true}, nil)
	return l
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
	l, _ := runServer(t, &app.Config{FormatsFile: path, DefaultFormat: "from-file"}, nil)
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
	l, _ := runServer(t, &app.Config{}, nil)
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
