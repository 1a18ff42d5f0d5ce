package api

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/apikey"
	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/store/postgres"
)

// TestDatabaseDown_Answers503: when the database cannot be reached the API
// says so with 503, a problem body and no internals, never a bare 500.
func TestDatabaseDown_Answers503(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1.
	st, err := postgres.Open("postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := New(&Config{Store: st, Formats: catalog.New(st, "", nil), Logger: slog.New(slog.DiscardHandler)})
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/api/v1/tenants", ""},
		{"POST", "/api/v1/tenants/acme/events", `{"type":"a.b","data":{}}`},
		{"GET", "/readyz", ""},
	} {
		req := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
		req.Header.Set("Authorization", "Bearer "+apikey.New())
		if r.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusServiceUnavailable {
			t.Errorf("%s %s with the database down: %d %s, want 503", r.method, r.path, rec.Code, rec.Body)
		}
		if r.path != "/readyz" && rec.Header().Get("Retry-After") != "1" {
			t.Errorf("%s %s: Retry-After %q, want 1", r.method, r.path, rec.Header().Get("Retry-After"))
		}
		if strings.Contains(rec.Body.String(), "127.0.0.1:1") || strings.Contains(rec.Body.String(), "dial") {
			t.Errorf("%s %s: the answer shows internals: %s", r.method, r.path, rec.Body)
		}
	}
}
