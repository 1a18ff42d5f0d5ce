package app_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/app"
)

func TestCheckPprofAddr(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"127.0.0.1:6060", "[::1]:6060", "localhost:6060", "127.0.0.2:0"} {
		if err := app.CheckPprofAddr(ok); err != nil {
			t.Errorf("CheckPprofAddr(%q) = %v, want it accepted", ok, err)
		}
	}
	for _, bad := range []string{":6060", "0.0.0.0:6060", "[::]:6060", "10.0.0.1:6060", "example.com:6060", "127.0.0.1", "127.0.0.1:", ""} {
		err := app.CheckPprofAddr(bad)
		if err == nil {
			t.Errorf("CheckPprofAddr(%q) = nil, want it refused", bad)
			continue
		}
		if !strings.Contains(err.Error(), "loopback") && !strings.Contains(err.Error(), "port") {
			t.Errorf("CheckPprofAddr(%q) = %q, want a message saying loopback only", bad, err)
		}
	}
}

// The profiler is served on its own listener and nowhere else: not through
// the API's.
func TestMain_ServesPprofOnItsOwnListener(t *testing.T) {
	t.Parallel()
	m := app.NewMain(&app.Config{
		Addr: "127.0.0.1:0", DatabaseURL: "sqlite:" + filepath.Join(t.TempDir(), "h.db"),
		AdminKey: "hk_pprof_test_key_0123456789abcdef", PprofAddr: "127.0.0.1:0",
	}, slog.New(slog.DiscardHandler))
	if err := m.Open(context.Background()); err != nil {
		m.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		if err := m.Close(); err != nil {
			t.Error(err)
		}
	}()
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(raw)
	}
	if m.PprofAddr() == "" || m.PprofAddr() == m.Addr() {
		t.Fatalf("pprof address %q, API %q: want a listener of its own", m.PprofAddr(), m.Addr())
	}
	if code, body := get("http://" + m.PprofAddr() + "/debug/pprof/"); code != 200 || !strings.Contains(body, "goroutine") {
		t.Errorf("pprof index: %d %.200q, want 200 listing profiles", code, body)
	}
	if code, _ := get("http://" + m.PprofAddr() + "/debug/pprof/heap?debug=1"); code != 200 {
		t.Errorf("heap profile: %d, want 200", code)
	}
	if code, _ := get("http://" + m.Addr() + "/debug/pprof/"); code == 200 {
		t.Errorf("the API listener serves /debug/pprof/ (%d); want it only on the pprof listener", code)
	}
}

func TestMain_RefusesAPprofAddrOffLoopback(t *testing.T) {
	t.Parallel()
	m := app.NewMain(&app.Config{
		Addr: "127.0.0.1:0", DatabaseURL: "sqlite:" + filepath.Join(t.TempDir(), "h.db"), PprofAddr: "0.0.0.0:6060",
	}, slog.New(slog.DiscardHandler))
	defer m.Close()
	err := m.Open(context.Background())
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("Open with --pprof-addr 0.0.0.0:6060: %v, want a refusal naming loopback", err)
	}
}
