package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/postgres"
	"github.com/heraldhq/herald/internal/store/sqlite"
)

// EnvPostgres names the PostgreSQL server tests use, as a postgres:// URL
// of a database the user may create schemas in. Unset, PostgreSQL tests are
// skipped.
const EnvPostgres = "HERALD_TEST_DATABASE_URL"

// Each runs fn as the subtests "sqlite" and "postgres" (the latter only when
// HERALD_TEST_DATABASE_URL is set), each with a fresh migrated store opened
// with opts (store.WithClock for a fake clock). fn may call t.Parallel.
func Each(t *testing.T, fn func(t *testing.T, st store.Store), opts ...store.Option) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t, opts...)) })
	if os.Getenv(EnvPostgres) != "" {
		t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t, opts...)) })
	}
}

// SQLitePath returns the path of a new SQLite file in the test's temporary
// directory (not created yet), for tests that open several Stores on it.
func SQLitePath(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "herald.db")
}

// SQLite returns a fresh migrated SQLite store, closed when the test ends.
func SQLite(t testing.TB, opts ...store.Option) store.Store {
	t.Helper()
	return OpenSQLite(t, SQLitePath(t), true, opts...)
}

// OpenSQLite opens a Store on the SQLite file at path, migrated if asked,
// closed when the test ends.
func OpenSQLite(t testing.TB, path string, migrate bool, opts ...store.Option) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(path, opts...)
	if err != nil {
		t.Fatalf("open sqlite %s: %v", path, err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close sqlite store: %v", err)
		}
	})
	if migrate {
		if err := st.Migrate(context.Background()); err != nil {
			t.Fatalf("migrate sqlite %s: %v", path, err)
		}
	}
	return st
}

// Postgres returns a fresh migrated PostgreSQL store on a schema of its
// own, closed (and the schema dropped) when the test ends. It skips the test
// when HERALD_TEST_DATABASE_URL is unset.
func Postgres(t testing.TB, opts ...store.Option) store.Store {
	t.Helper()
	return OpenPostgres(t, PostgresURL(t), true, opts...)
}

// OpenPostgres opens a Store on url, migrated if asked, closed when the
// test ends.
func OpenPostgres(t testing.TB, url string, migrate bool, opts ...store.Option) *postgres.Store {
	t.Helper()
	st, err := postgres.Open(url, opts...)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close postgres store: %v", err)
		}
	})
	if migrate {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := st.Migrate(ctx); err != nil {
			t.Fatalf("migrate postgres: %v", err)
		}
	}
	return st
}

// PostgresURL creates an empty schema t_<random> and returns
// HERALD_TEST_DATABASE_URL with search_path set to it, so any number of
// Stores (or a herald binary) can share that database. The schema is
// dropped when the test ends. It skips the test when the variable is unset.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvPostgres)
	if base == "" {
		t.Skip(EnvPostgres + " is not set")
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s must be a postgres:// URL, got %q", EnvPostgres, base)
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
