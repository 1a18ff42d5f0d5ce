package postgres_test

import (
	"context"
	"database/sql"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/pressly/goose/v3"

	"github.com/heraldhq/herald/internal/store/dbtest"
)

// Migration 9 moves a rotation's previous secret, kept in two columns
// until then, into previous_secrets with its expiry, and back down.
func TestMigrate9_KeepsTheRotationsPreviousSecret(t *testing.T) {
	t.Parallel()
	skipWithoutServer(t)
	ctx := context.Background()
	url := dbtest.PostgresURL(t)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, os.DirFS("migrations"), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 8); err != nil {
		t.Fatal(err)
	}
	exp := time.Date(2031, 5, 6, 7, 8, 9, 123456000, time.UTC)
	if _, err := db.Exec(`INSERT INTO tenants (id, name, created_at, updated_at) VALUES ('acme', '', now(), now())`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO endpoints (id, tenant_id, url, description, events, format, secret, previous_secret, previous_secret_expires_at,
			enabled, headers, rate_limit, metadata, created_at, updated_at)
		VALUES ('ep_1', 'acme', 'https://x', '', '["*"]', '', 'whsec_new', 'whsec_old', $1, true, '{}', 0, '{}', now(), now()),
		       ('ep_2', 'acme', 'https://x', '', '["*"]', '', 'whsec_only', '', NULL, true, '{}', 0, '{}', now(), now())`, exp); err != nil {
		t.Fatal(err)
	}
	st := dbtest.OpenPostgres(t, url, true)
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
	var at time.Time
	if err := db.QueryRow(`SELECT previous_secret, previous_secret_expires_at FROM endpoints WHERE id = 'ep_1'`).Scan(&prev, &at); err != nil || prev != "whsec_old" || !at.Equal(exp) {
		t.Fatalf("after migrating down: %q, %v, %v", prev, at, err)
	}
}
