// Package pgschema gives a test a PostgreSQL schema of its own in a shared
// database. It imports no Herald package, so the postgres driver's own
// internal tests can use it as well as dbtest.
package pgschema

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// URL creates an empty schema t_<random> in the database of base (a
// postgres:// URL) and returns base with search_path set to it, so any
// number of connections share that schema. The schema is dropped when the
// test ends.
func URL(t testing.TB, base string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %q: %v", base, err)
	}
	b := make([]byte, 8)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	exec := func(sql string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		_, err = conn.Exec(ctx, sql)
		return err
	}
	// The schema name is ours (hex), safe to splice into the statement.
	if err := exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		if err := exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	q := u.Query()
	// pgx sends unknown URL parameters as run-time parameters, so every
	// connection starts with this search_path.
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
