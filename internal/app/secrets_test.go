package app_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/secretbox"
	"github.com/heraldhq/herald/internal/store/dbtest"
	"github.com/heraldhq/herald/verify"
)

func b64Key(b byte) string {
	return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, secretbox.KeySize))
}

// openErr starts a server with cfg (a free port and a discarding logger
// filled in) and returns Open's error, closing what it opened.
func openErr(t *testing.T, cfg *app.Config) error {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	m := app.NewMain(cfg, slog.New(slog.DiscardHandler))
	err := m.Open(context.Background())
	m.Close()
	return err
}

// TestServe_EncryptionKeySealsSecretsAtRest: with --encryption-key an
// endpoint's secret is not in the database in clear, deliveries are still
// signed with it, a server started with another key or none refuses to
// start, and herald rotate-key moves every row to a new key.
func TestServe_EncryptionKeySealsSecretsAtRest(t *testing.T) {
	t.Parallel()
	dbtest.EachDB(t, func(t *testing.T, db *dbtest.DB) {
		t.Parallel()
		const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		keyA, keyB := b64Key(1), b64Key(2)
		got := make(chan *http.Request, 10)
		bodies := make(chan []byte, 10)
		rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			got <- r
			bodies <- b
			w.WriteHeader(204)
		}))
		t.Cleanup(rc.Close)

		l, stop := runServer(t, &app.Config{DatabaseURL: db.URL, EncryptionKey: keyA, AllowPrivateDestinations: true}, nil)
		l.must(http.StatusCreated, "POST", "/api/v1/tenants", map[string]any{"id": "acme"})
		ep := l.must(http.StatusCreated, "POST", "/api/v1/tenants/acme/endpoints", map[string]any{"url": rc.URL, "secret": secret})
		l.must(http.StatusAccepted, "POST", "/api/v1/tenants/acme/events", map[string]any{"type": "user.created", "data": map[string]any{"id": 1}})
		select {
		case r := <-got:
			v, _ := verify.NewStandard([]string{secret})
			if err := v.Verify(<-bodies, r.Header); err != nil {
				t.Errorf("a delivery under --encryption-key does not verify with the endpoint's secret: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no delivery")
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		raw := strings.Join(db.Strings(t, `SELECT secret || ' ' || secret_key_id FROM endpoints`), "\n")
		ringA, _ := app.Keyring(keyA, nil)
		if strings.Contains(raw, "MfKQ9r8G") || !strings.Contains(raw, ringA.ID()) {
			t.Fatalf("stored %q: want the secret sealed, beside key id %s", raw, ringA.ID())
		}

		// The wrong key, or none, fails loudly at start, naming the key.
		for name, cfg := range map[string]*app.Config{
			"another key": {DatabaseURL: db.URL, EncryptionKey: keyB, AdminKey: liveAdminKey},
			"no key":      {DatabaseURL: db.URL, AdminKey: liveAdminKey},
		} {
			err := openErr(t, cfg)
			if err == nil || !strings.Contains(err.Error(), ringA.ID()) || !strings.Contains(err.Error(), "--encryption-key") {
				t.Errorf("start with %s: %v, want an error naming key %s and --encryption-key", name, err, ringA.ID())
			}
		}
		for _, bad := range []string{"short", base64.StdEncoding.EncodeToString([]byte("sixteen bytes!!!"))} {
			if err := openErr(t, &app.Config{DatabaseURL: db.URL, EncryptionKey: bad, AdminKey: liveAdminKey}); err == nil || !strings.Contains(err.Error(), "--encryption-key") {
				t.Errorf("start with --encryption-key %q: %v, want it refused", bad, err)
			}
		}

		// rotate-key: B is the new key, A the old one.
		ring, err := app.Keyring(keyB, []string{keyA})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := app.RotateKey(t.Context(), db.URL, ring); err != nil || n != 1 {
			t.Fatalf("RotateKey = %d, %v; want 1 endpoint sealed again", n, err)
		}
		if ids := db.Strings(t, `SELECT secret_key_id FROM endpoints`); len(ids) != 1 || ids[0] != ring.ID() {
			t.Fatalf("key ids after rotate-key: %v, want [%s]", ids, ring.ID())
		}
		if err := openErr(t, &app.Config{DatabaseURL: db.URL, EncryptionKey: keyA, AdminKey: liveAdminKey}); err == nil {
			t.Error("the old key alone after rotate-key: the server started")
		}
		l, _ = runServer(t, &app.Config{DatabaseURL: db.URL, EncryptionKey: keyB}, nil)
		if e := l.must(http.StatusOK, "GET", "/api/v1/tenants/acme/endpoints/"+ep["id"].(string), nil); e["id"] != ep["id"] {
			t.Errorf("GET the endpoint under the new key: %v", e)
		}
	})
}

// TestServe_WarnsOfSecretsInClear: without --encryption-key a server
// says at start that secrets are kept in clear, except with --dev.
func TestServe_WarnsOfSecretsInClear(t *testing.T) {
	t.Parallel()
	for _, dev := range []bool{false, true} {
		var logs bytes.Buffer
		dir := t.TempDir()
		cfg := &app.Config{Addr: "127.0.0.1:0", DatabaseURL: "sqlite:" + filepath.Join(dir, "h.db"), AdminKey: liveAdminKey, Dev: dev}
		m := app.NewMain(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
		if err := m.Open(context.Background()); err != nil {
			t.Fatal(err)
		}
		m.Close()
		if warned := strings.Contains(logs.String(), "level=WARN") && strings.Contains(logs.String(), "stored in clear"); warned == dev {
			t.Errorf("dev %v: warned %v; log:\n%s", dev, warned, logs.String())
		}
	}
}

// TestServe_RefusesShortAdminKey: a five-character --admin-key used to be
// accepted.
func TestServe_RefusesShortAdminKey(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "h.db")
	err := openErr(t, &app.Config{DatabaseURL: "sqlite:" + path, AdminKey: "admin"})
	if err == nil || !strings.Contains(err.Error(), "--admin-key") || !strings.Contains(err.Error(), "at least 32") {
		t.Fatalf("--admin-key admin: %v, want an error naming --admin-key and the 32-character minimum", err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("the database was created before the key was refused")
	}
}

// TestServe_DevReusesItsAdminKey: every --dev start used to add an admin
// key for ever; now it keeps the one it printed in a file beside the
// database (0600) and prints and uses it again.
func TestServe_DevReusesItsAdminKey(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "h.db")
	var keys []string
	for range 3 {
		var out bytes.Buffer
		cfg := &app.Config{Addr: "127.0.0.1:0", DatabaseURL: "sqlite:" + path, Dev: true, Out: &out}
		m := app.NewMain(cfg, slog.New(slog.DiscardHandler))
		if err := m.Open(context.Background()); err != nil {
			t.Fatal(err)
		}
		m.Close()
		i := strings.Index(out.String(), "Admin key: ")
		if i < 0 {
			t.Fatalf("no admin key printed: %q", out.String())
		}
		keys = append(keys, strings.Fields(out.String()[i+len("Admin key: "):])[0])
		if !strings.Contains(out.String(), path+".dev-admin-key") {
			t.Errorf("the output does not say where the key is kept: %q", out.String())
		}
	}
	if keys[0] != keys[1] || keys[1] != keys[2] || !strings.HasPrefix(keys[0], "hk_") {
		t.Fatalf("three --dev starts printed %v, want one key three times", keys)
	}
	fi, err := os.Stat(path + ".dev-admin-key")
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v; want it, 0600", err, fi.Mode().Perm())
	}
	if b, _ := os.ReadFile(path + ".dev-admin-key"); strings.TrimSpace(string(b)) != keys[0] {
		t.Errorf("key file holds %q, want the printed key", b)
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM api_keys WHERE tenant_id IS NULL`).Scan(&n); err != nil || n != 1 {
		t.Errorf("admin keys stored after three --dev starts: %d (%v), want 1", n, err)
	}
	// Its key file edited to a short key is refused like --admin-key.
	if err := os.WriteFile(path+".dev-admin-key", []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := openErr(t, &app.Config{DatabaseURL: "sqlite:" + path, Dev: true}); err == nil || !strings.Contains(err.Error(), ".dev-admin-key") {
		t.Errorf("a short key in the file: %v, want an error naming the file", err)
	}
}
