package sqlite_test

import (
	"context"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
	"github.com/heraldhq/herald/internal/store/sqlite"
	"github.com/heraldhq/herald/internal/store/storetest"
)

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store { return dbtest.SQLite(t) }, storetest.Options{
		// Several Stores on one file stand for several processes.
		OpenNodes: func(t *testing.T, n int, migrate bool) []store.Store {
			path := dbtest.SQLitePath(t)
			out := make([]store.Store, n)
			for i := range out {
				out[i] = dbtest.OpenSQLite(t, path, migrate && i == 0)
			}
			return out
		},
	})
}

func TestPathFromURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ url, want string }{
		{"sqlite:herald.db", "herald.db"},
		{"sqlite:data/herald.db", "data/herald.db"},
		{"sqlite://herald.db", "herald.db"},
		{"sqlite:///var/lib/herald/herald.db", "/var/lib/herald/herald.db"},
		{"sqlite:/var/lib/herald.db", "/var/lib/herald.db"},
		{"sqlite:my db?.db", "my db?.db"},
	} {
		got, err := sqlite.PathFromURL(tc.url)
		if err != nil || got != tc.want {
			t.Errorf("PathFromURL(%q) = %q, %v; want %q", tc.url, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "herald.db", "postgres://x", "sqlite:", "sqlite://", "SQLITE", "sqlite:a\x00b"} {
		if got, err := sqlite.PathFromURL(bad); err == nil {
			t.Errorf("PathFromURL(%q) = %q, want an error", bad, got)
		}
	}
}

func FuzzPathFromURL(f *testing.F) {
	for _, s := range []string{"sqlite:herald.db", "sqlite:///a/b.db", "sqlite://", "sqlite:", "x", "sqlite:a?b#c%20"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, u string) {
		p, err := sqlite.PathFromURL(u)
		if err != nil {
			return
		}
		if p == "" || strings.ContainsRune(p, 0) || !strings.HasPrefix(u, "sqlite:") || !strings.HasSuffix(u, p) {
			t.Fatalf("PathFromURL(%q) = %q: want a non-empty path taken from the end of the URL", u, p)
		}
	})
}

// A path with the characters a URI would read as syntax still names that
// very file.
func TestOpen_PathWithURISyntax(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := dir + "/a?b#c%41.db"
	st := dbtest.OpenSQLite(t, path, true)
	ctx := context.Background()
	if _, err := st.TenantCreate(ctx, &store.Tenant{ID: "x", Name: "x"}); err != nil {
		t.Fatal(err)
	}
	again := dbtest.OpenSQLite(t, path, false)
	if _, err := again.TenantGet(ctx, "x"); err != nil {
		t.Fatalf("reopening %q: %v, want the tenant written through the first Store", path, err)
	}
}

func TestOpen_NoIO(t *testing.T) {
	t.Parallel()
	st, err := sqlite.Open(t.TempDir() + "/missing-dir/x.db")
	if err != nil {
		t.Fatalf("Open of a path in a missing directory = %v, want no error until first use", err)
	}
	defer st.Close()
	if err := st.Ping(context.Background()); err == nil {
		t.Error("Ping of a file that cannot be created: no error, want one")
	}
}

func BenchmarkClaim(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) store.Store { return dbtest.SQLite(b) })
}

// BenchmarkBatch measures the completer's batched record and group
// commit's batched ingest (storetest.BenchBatch).
func BenchmarkBatch(b *testing.B) {
	storetest.BenchBatch(b, func(b *testing.B) store.Store { return dbtest.SQLite(b) })
}

// BenchmarkOperations measures a replay and a retention run over many
// deliveries (storetest.BenchOperations); run it with -benchtime 1x.
func BenchmarkOperations(b *testing.B) {
	storetest.BenchOperations(b, func(b *testing.B) store.Store { return dbtest.SQLite(b) })
}
