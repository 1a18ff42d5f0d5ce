package dbtest

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest/pgschema"
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
	return pgschema.URL(t, base)
}

// DB is one fresh database of a driver, for tests that look beneath the
// store at what it wrote.
type DB struct {
	// Name is the driver's: "sqlite" or "postgres".
	Name string
	// URL is the database's, as herald serve --database takes it.
	URL string
	// Open opens another Store on the database with opts, migrated, closed
	// when the test ends: several stand for several nodes, or for one
	// server restarted with other options.
	Open func(t testing.TB, opts ...store.Option) store.Store
	// Strings runs query, of one text column, on a connection of its own
	// outside any Store, and returns its rows.
	Strings func(t testing.TB, query string) []string
	// Exec runs a statement on a connection of its own outside any Store.
	Exec func(t testing.TB, stmt string)
}

// EachDB runs fn as the subtests "sqlite" and "postgres" (the latter only
// when HERALD_TEST_DATABASE_URL is set), each with a fresh database.
func EachDB(t *testing.T, fn func(t *testing.T, db *DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		path := SQLitePath(t)
		raw := func(t testing.TB) *sql.DB {
			t.Helper()
			db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
			if err != nil {
				t.Fatalf("open %s: %v", path, err)
			}
			return db
		}
		fn(t, &DB{
			Name: "sqlite",
			URL:  "sqlite:" + path,
			Open: func(t testing.TB, opts ...store.Option) store.Store { return OpenSQLite(t, path, true, opts...) },
			Strings: func(t testing.TB, query string) []string {
				t.Helper()
				db := raw(t)
				defer db.Close()
				rows, err := db.Query(query)
				if err != nil {
					t.Fatalf("%s: %v", query, err)
				}
				defer rows.Close()
				var out []string
				for rows.Next() {
					var v string
					if err := rows.Scan(&v); err != nil {
						t.Fatalf("%s: %v", query, err)
					}
					out = append(out, v)
				}
				if err := rows.Err(); err != nil {
					t.Fatalf("%s: %v", query, err)
				}
				return out
			},
			Exec: func(t testing.TB, stmt string) {
				t.Helper()
				db := raw(t)
				defer db.Close()
				if _, err := db.Exec(stmt); err != nil {
					t.Fatalf("%s: %v", stmt, err)
				}
			},
		})
	})
	if os.Getenv(EnvPostgres) == "" {
		return
	}
	t.Run("postgres", func(t *testing.T) {
		u := PostgresURL(t)
		conn := func(t testing.TB) (*pgx.Conn, context.Context, func()) {
			t.Helper()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			c, err := pgx.Connect(ctx, u)
			if err != nil {
				cancel()
				t.Fatalf("connect: %v", err)
			}
			return c, ctx, func() { c.Close(context.Background()); cancel() }
		}
		fn(t, &DB{
			Name: "postgres",
			URL:  u,
			Open: func(t testing.TB, opts ...store.Option) store.Store { return OpenPostgres(t, u, true, opts...) },
			Strings: func(t testing.TB, query string) []string {
				t.Helper()
				c, ctx, done := conn(t)
				defer done()
				rows, err := c.Query(ctx, query)
				if err != nil {
					t.Fatalf("%s: %v", query, err)
				}
				out, err := pgx.CollectRows(rows, pgx.RowTo[string])
				if err != nil {
					t.Fatalf("%s: %v", query, err)
				}
				return out
			},
			Exec: func(t testing.TB, stmt string) {
				t.Helper()
				c, ctx, done := conn(t)
				defer done()
				if _, err := c.Exec(ctx, stmt); err != nil {
					t.Fatalf("%s: %v", stmt, err)
				}
			},
		})
	})
}
