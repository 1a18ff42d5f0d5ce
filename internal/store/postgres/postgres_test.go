package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
	"github.com/heraldhq/herald/internal/store/postgres"
	"github.com/heraldhq/herald/internal/store/storetest"
)

func skipWithoutServer(t *testing.T) {
	t.Helper()
	if os.Getenv(dbtest.EnvPostgres) == "" {
		t.Skip(dbtest.EnvPostgres + " is not set")
	}
}

func TestStore(t *testing.T) {
	t.Parallel()
	skipWithoutServer(t)
	storetest.Run(t, func(t *testing.T) store.Store { return dbtest.Postgres(t) }, storetest.Options{
		OpenNodes: func(t *testing.T, n int, migrate bool) []store.Store {
			url := dbtest.PostgresURL(t)
			out := make([]store.Store, n)
			for i := range out {
				out[i] = dbtest.OpenPostgres(t, url, migrate && i == 0)
			}
			return out
		},
		SharedListen: true,
	})
}

func TestOpen_NoIO(t *testing.T) {
	t.Parallel()
	st, err := postgres.Open("postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2")
	if err != nil {
		t.Fatalf("Open of an unreachable server = %v, want no error until first use", err)
	}
	defer st.Close()
	if err := st.Ping(context.Background()); err == nil {
		t.Error("Ping of an unreachable server: no error, want one")
	}
	if _, err := postgres.Open("postgres://%zz"); err == nil {
		t.Error("Open of a malformed URL: no error, want one")
	}
}

// When the listening connection dies, Listen reconnects, says so with a
// wake-up (commits in between were not heard), and hears commits again.
func TestListen_Reconnects(t *testing.T) {
	t.Parallel()
	skipWithoutServer(t)
	b := make([]byte, 6)
	rand.Read(b)
	app := "herald_listen_" + hex.EncodeToString(b)
	st := dbtest.OpenPostgres(t, dbtest.PostgresURL(t)+"&application_name="+app, true)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ch, err := st.Listen(ctx)
	if err != nil {
		t.Fatal(err)
	}

	admin, err := pgx.Connect(ctx, os.Getenv(dbtest.EnvPostgres))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	var killed int
	err = admin.QueryRow(ctx, `
		SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1 AND query LIKE 'LISTEN%'`, app).Scan(&killed)
	if err != nil || killed != 1 {
		t.Fatalf("terminating the listening backend: %d killed, %v; want 1", killed, err)
	}
	wait := func(what string) {
		t.Helper()
		select {
		case _, ok := <-ch:
			if !ok {
				t.Fatalf("%s: channel closed", what)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: no wake-up", what)
		}
	}
	wait("reconnect")

	if _, err := st.TenantCreate(ctx, &store.Tenant{ID: "acme", Name: "a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.EndpointCreate(ctx, &store.Endpoint{TenantID: "acme", URL: "https://x", Events: []string{"*"}, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	_, err = st.EventCreate(ctx, &store.EventCreateParams{Event: &store.Event{TenantID: "acme", Type: "x", Data: []byte(`{}`)}, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	wait("EventCreate after the reconnect")
}

func BenchmarkClaim(b *testing.B) {
	if os.Getenv(dbtest.EnvPostgres) == "" {
		b.Skip(dbtest.EnvPostgres + " is not set")
	}
	storetest.Bench(b, func(b *testing.B) store.Store { return dbtest.Postgres(b) })
}

// A value PostgreSQL refuses as out of range (SQLSTATE 22008 here) is the
// caller's error, herald.ErrInvalid, not an unexpected one.
func TestStore_OutOfRangeTimeIsInvalid(t *testing.T) {
	t.Parallel()
	skipWithoutServer(t)
	st := dbtest.Postgres(t)
	_, err := st.TenantCreate(context.Background(), &store.Tenant{ID: "acme", Name: "Acme", CreatedAt: time.Date(-5000, 1, 1, 0, 0, 0, 0, time.UTC)})
	if !errors.Is(err, herald.ErrInvalid) {
		t.Fatalf("TenantCreate at 5001 BC = %v, want herald.ErrInvalid", err)
	}
	var he *herald.Error
	if !errors.As(err, &he) || strings.Contains(he.Message, "SQLSTATE") {
		t.Fatalf("TenantCreate at 5001 BC = %v, want a herald.Error whose message is the client's, not PostgreSQL's", err)
	}
}

// BenchmarkBatch measures the completer's batched record and group
// commit's batched ingest (storetest.BenchBatch).
func BenchmarkBatch(b *testing.B) {
	if os.Getenv(dbtest.EnvPostgres) == "" {
		b.Skip(dbtest.EnvPostgres + " is not set")
	}
	storetest.BenchBatch(b, func(b *testing.B) store.Store { return dbtest.Postgres(b) })
}

// BenchmarkOperations measures a replay and a retention run over many
// deliveries (storetest.BenchOperations); run it with -benchtime 1x.
func BenchmarkOperations(b *testing.B) {
	if os.Getenv(dbtest.EnvPostgres) == "" {
		b.Skip(dbtest.EnvPostgres + " is not set")
	}
	storetest.BenchOperations(b, func(b *testing.B) store.Store { return dbtest.Postgres(b) })
}

// A node commits one ingest batch at a time on PostgreSQL, whose
// hand-offs take turns at the claims' lock, as on SQLite's single writer.
func TestWriters(t *testing.T) {
	t.Parallel()
	if got := store.Writers(&postgres.Store{}); got != 1 {
		t.Errorf("store.Writers(postgres) = %d, want 1", got)
	}
	if got := store.Writers(dbtest.SQLite(t)); got != 1 {
		t.Errorf("store.Writers(sqlite) = %d, want 1", got)
	}
}

// PostgreSQL's claims after an empty one probe first; SQLite's do not.
func TestClaimProbe(t *testing.T) {
	t.Parallel()
	if !store.ClaimProbe(&postgres.Store{}) {
		t.Error("store.ClaimProbe(postgres) = false, want true")
	}
	if store.ClaimProbe(dbtest.SQLite(t)) {
		t.Error("store.ClaimProbe(sqlite) = true, want false")
	}
}
