package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/heraldhq/herald/internal/store/dbtest"
)

// Migration 9 moves a rotation's previous secret, kept in two columns
// until then, into previous_secrets with its expiry, and back down.
func TestMigrate9_KeepsTheRotationsPreviousSecret(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := dbtest.SQLitePath(t)
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectSQLite3, db, os.DirFS("migrations"), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 8); err != nil {
		t.Fatal(err)
	}
	exp := time.Date(2031, 5, 6, 7, 8, 9, 123456000, time.UTC)
	for _, q := range []string{
		`INSERT INTO tenants (id, name, created_at, updated_at) VALUES ('acme', '', 0, 0)`,
		`INSERT INTO endpoints (id, tenant_id, url, description, events, format, secret, previous_secret, previous_secret_expires_at,
			enabled, headers, rate_limit, metadata, created_at, updated_at)
		 VALUES ('ep_1', 'acme', 'https://x', '', '["*"]', '', 'whsec_new', 'whsec_old', ` + strconv.FormatInt(exp.UnixMicro(), 10) + `, 1, '{}', 0, '{}', 0, 0),
		        ('ep_2', 'acme', 'https://x', '', '["*"]', '', 'whsec_only', '', NULL, 1, '{}', 0, '{}', 0, 0)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	st := dbtest.OpenSQLite(t, path, true)
	e, err := st.EndpointGet(ctx, "acme", "ep_1")
	if err != nil {
		t.Fatal(err)
	}
	if e.Secret != "whsec_new" || len(e.PreviousSecrets) != 1 || e.PreviousSecrets[0].Secret != "whsec_old" ||
		!e.PreviousSecrets[0].ExpiresAt.Equal(exp) || !e.PreviousSecrets[0].ReplacedAt.IsZero() {
		t.Fatalf("after migration 9: %+v, want the previous secret kept with its expiry", e)
	}
	if e, err := st.EndpointGet(ctx, "acme", "ep_2"); err != nil || len(e.PreviousSecrets) != 0 || e.Secret != "whsec_only" {
		t.Fatalf("an endpoint never rotated: %+v, %v", e, err)
	}

	if _, err := p.DownTo(ctx, 8); err != nil {
		t.Fatalf("migrate down to 8: %v", err)
	}
	var prev string
	var at int64
	if err := db.QueryRow(`SELECT previous_secret, previous_secret_expires_at FROM endpoints WHERE id = 'ep_1'`).Scan(&prev, &at); err != nil || prev != "whsec_old" || at != exp.UnixMicro() {
		t.Fatalf("after migrating down: %q, %d, %v", prev, at, err)
	}
}
