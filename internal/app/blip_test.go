package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

// TestServe_PostgresBlipLosesNothing cuts every database connection of a
// running server twice while events stream in: every answer is a 202 or a
// 503 (never a 500), and every event that got its 202 is delivered.
func TestServe_PostgresBlipLosesNothing(t *testing.T) {
	t.Parallel()
	base := os.Getenv(dbtest.EnvPostgres)
	if base == "" {
		t.Skip(dbtest.EnvPostgres + " is unset")
	}
	appName := fmt.Sprintf("herald_blip_%d", time.Now().UnixNano())
	dbURL := dbtest.PostgresURL(t) + "&application_name=" + appName

	var mu sync.Mutex
	got := map[string]bool{}
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		got[r.Header.Get("webhook-id")] = true
		mu.Unlock()
		w.WriteHeader(200)
	}))
	defer rc.Close()

	logw := &lockedBuffer{}
	defer func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logw.String())
		}
	}()
	l, _ := runServer(t, &app.Config{DatabaseURL: dbURL, AllowPrivateDestinations: true, Lease: 3 * time.Second},
		slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelWarn})))
	l.must(http.StatusCreated, "POST", "/api/v1/tenants", map[string]any{"id": "acme"})
	l.must(http.StatusCreated, "POST", "/api/v1/tenants/acme/endpoints", map[string]any{"url": rc.URL})

	cut := func() {
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close(context.Background())
		var n int
		if err := c.QueryRow(context.Background(),
			`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, appName).Scan(&n); err != nil {
			t.Error(err)
		}
		t.Logf("cut %d connections", n)
	}
	cut1 := time.AfterFunc(500*time.Millisecond, cut)
	cut2 := time.AfterFunc(1200*time.Millisecond, cut)
	defer cut1.Stop()
	defer cut2.Stop()

	var ackMu sync.Mutex
	var acked []string
	codes := map[int]int{}
	var wg sync.WaitGroup
	deadline := time.Now().Add(1800 * time.Millisecond)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				evID := fmt.Sprintf("b_%d_%05d", w, i)
				code, _ := l.do("POST", "/api/v1/tenants/acme/events", map[string]any{"id": evID, "type": "a.b", "data": map[string]any{"i": i}})
				ackMu.Lock()
				codes[code]++
				if code == http.StatusAccepted {
					acked = append(acked, evID)
				}
				ackMu.Unlock()
			}
		}()
	}
	wg.Wait()
	for code, n := range codes {
		if code != http.StatusAccepted && code != http.StatusServiceUnavailable {
			t.Errorf("%d answers with status %d during the blips, want only 202 or 503", n, code)
		}
	}
	if len(acked) < 20 {
		t.Fatalf("only %d events acknowledged", len(acked))
	}
	wait := time.Now().Add(60 * time.Second)
	for {
		missing := 0
		mu.Lock()
		for _, id := range acked {
			if !got[id] {
				missing++
			}
		}
		mu.Unlock()
		if missing == 0 {
			break
		}
		if time.Now().After(wait) {
			t.Fatalf("%d of %d acknowledged events never arrived after the database blips", missing, len(acked))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("answers %v; all %d acknowledged events delivered", codes, len(acked))
}

// lockedBuffer is a log destination shared by goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	return len(p), nil
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b)
}
