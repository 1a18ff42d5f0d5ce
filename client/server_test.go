package client_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/app"
)

// adminKey is the admin key of every test server.
const adminKey = "hk_client_test_admin_key_0123456789abcdef"

// server is a Herald server running in this process on a real port, with
// its delivery engine, over a fresh SQLite file: what the client is
// tested against.
type server struct {
	url string
	c   *client.Client
}

// startServer runs a server until the test ends and returns it with a
// client of its admin key. It may deliver to this machine's receivers.
func startServer(t *testing.T) *server {
	t.Helper()
	m := app.NewMain(&app.Config{
		Addr:                     "127.0.0.1:0",
		DatabaseURL:              "sqlite:" + filepath.Join(t.TempDir(), "herald.db"),
		AdminKey:                 adminKey,
		AllowPrivateDestinations: true,
	}, slog.New(slog.DiscardHandler))
	if err := m.Open(t.Context()); err != nil {
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
	s := &server{url: "http://" + m.Addr()}
	s.c = s.client(t, adminKey)
	return s
}

// client returns a client of the server with key.
func (s *server) client(t *testing.T, key string, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(s.url, key, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// receiver is a webhook receiver answering every delivery with status.
type receiver struct {
	*httptest.Server
	status atomic.Int32
	mu     sync.Mutex
	got    int
}

func newReceiver(t *testing.T, status int) *receiver {
	t.Helper()
	r := &receiver{}
	r.status.Store(int32(status))
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		r.mu.Lock()
		r.got++
		r.mu.Unlock()
		w.WriteHeader(int(r.status.Load()))
	}))
	t.Cleanup(r.Close)
	return r
}

// eventually polls cond until it holds, failing the test after a generous
// bound: deliveries happen on the engine's time, not the test's.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 30s, still not %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tenantWithEndpoint creates tenant id with one endpoint to url for every
// event type.
func tenantWithEndpoint(t *testing.T, c *client.Client, id, url string) *client.Endpoint {
	t.Helper()
	ctx := t.Context()
	if _, err := c.Tenants.Create(ctx, &client.TenantCreateParams{ID: id}); err != nil {
		t.Fatal(err)
	}
	ep, err := c.Endpoints.Create(ctx, id, &client.EndpointCreateParams{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

// oneShotFormat defines a format that makes one attempt only, so that a
// failing delivery is failed at once, and returns its name.
func oneShotFormat(t *testing.T, c *client.Client) string {
	t.Helper()
	def := map[string]any{"retry": map[string]any{"schedule": []string{}}}
	if _, err := c.Do(t.Context(), "PUT", "/formats/one-shot", nil, def, nil); err != nil {
		t.Fatalf("PUT the one-shot format: %v", err)
	}
	return "one-shot"
}
