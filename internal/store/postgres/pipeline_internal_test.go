package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest/pgschema"
	"github.com/heraldhq/herald/internal/store/sqlstore"
)

// countingConn counts the writes to the server: pgx flushes what it has
// to send once per round trip, in one write.
type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}

// pipelineBundle is a migrated schema, a driver on a pool of one
// connection whose writes are counted, and the count.
type pipelineBundle struct {
	d      driver
	pool   *pgxpool.Pool
	writes *atomic.Int64
}

func setupPipeline(t *testing.T) *pipelineBundle {
	t.Helper()
	base := os.Getenv("HERALD_TEST_DATABASE_URL")
	if base == "" {
		t.Skip("HERALD_TEST_DATABASE_URL is not set")
	}
	u := pgschema.URL(t, base)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := Open(u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(u)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	writes := &atomic.Int64{}
	var dialer net.Dialer
	cfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{Conn: c, writes: writes}, nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return &pipelineBundle{d: driver{&Store{pool: pool}}, pool: pool, writes: writes}
}

// roundTrips is how many times the driver wrote to the server while tx
// ran, the second time it ran (the first prepares its statements).
func (b *pipelineBundle) roundTrips(t *testing.T, async bool, fn func(tx sqlstore.Querier) error) int64 {
	t.Helper()
	ctx := context.Background()
	run := b.d.Tx
	if async {
		run = b.d.AsyncTx
	}
	if err := run(ctx, fn); err != nil {
		t.Fatal(err)
	}
	before := b.writes.Load()
	if err := run(ctx, fn); err != nil {
		t.Fatal(err)
	}
	return b.writes.Load() - before
}

// A transaction's BEGIN, the claims' lock and a notification go out with
// the statement after them or with the COMMIT: a claim (lock, query) is
// two round trips, not four.
func TestPipeTx_RoundTrips(t *testing.T) {
	t.Parallel()
	b := setupPipeline(t)
	ctx := context.Background()
	one := func(tx sqlstore.Querier) error {
		var n int
		return tx.QueryRow(ctx, `SELECT 1`).Scan(&n)
	}
	for _, tc := range []struct {
		name  string
		async bool
		fn    func(tx sqlstore.Querier) error
		want  int64
	}{
		{"nothing", false, func(sqlstore.Querier) error { return nil }, 0},
		{"one query", false, one, 2},
		{"one query, async", true, one, 2},
		{"lock and query", false, func(tx sqlstore.Querier) error {
			if err := b.d.LockClaims(ctx, tx); err != nil {
				return err
			}
			return one(tx)
		}, 2},
		{"query and notify", false, func(tx sqlstore.Querier) error {
			if err := one(tx); err != nil {
				return err
			}
			return b.d.Notify(ctx, tx)
		}, 2},
		{"query and a deferred statement", false, func(tx sqlstore.Querier) error {
			if err := one(tx); err != nil {
				return err
			}
			return b.d.Defer(ctx, tx, `SELECT $1::int`, 2)
		}, 2},
		{"a batch of two queries", false, func(tx sqlstore.Querier) error {
			var got []int
			scan := func(r sqlstore.Row) error { var n int; err := r.Scan(&n); got = append(got, n); return err }
			err := b.d.Batch(ctx, tx, sqlstore.Stmt{SQL: `SELECT 1`, Scan: scan}, sqlstore.Stmt{SQL: `SELECT generate_series(2, $1::int)`, Args: []any{3}, Scan: scan})
			if err == nil && !slices.Equal(got, []int{1, 2, 3}) {
				err = fmt.Errorf("batch scanned %v, want [1 2 3]", got)
			}
			return err
		}, 2},
		{"two statements", false, func(tx sqlstore.Querier) error {
			if _, err := tx.Exec(ctx, `SELECT 1`); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, `SELECT 2`)
			_, err = sqlstore.Collect(rows, err, func(r sqlstore.Row) (int, error) { var n int; return n, r.Scan(&n) })
			return err
		}, 3},
	} {
		if got := b.roundTrips(t, tc.async, tc.fn); got != tc.want {
			t.Errorf("%s: %d round trips, want %d", tc.name, got, tc.want)
		}
	}
}

// The statement after LockClaims runs with the lock held, and AsyncTx's
// SET LOCAL is in force for its first statement.
func TestPipeTx_QueuedStatementsRunFirst(t *testing.T) {
	t.Parallel()
	b := setupPipeline(t)
	ctx := context.Background()
	var locks int
	err := b.d.Tx(ctx, func(tx sqlstore.Querier) error {
		if err := b.d.LockClaims(ctx, tx); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted`).Scan(&locks)
	})
	if err != nil || locks != 1 {
		t.Fatalf("advisory locks held by the statement after LockClaims: %d, %v; want 1", locks, err)
	}
	var sync string
	err = b.d.AsyncTx(ctx, func(tx sqlstore.Querier) error {
		rows, err := tx.Query(ctx, `SHOW synchronous_commit`)
		got, err := sqlstore.Collect(rows, err, func(r sqlstore.Row) (string, error) { var v string; return v, r.Scan(&v) })
		if len(got) == 1 {
			sync = got[0]
		}
		return err
	})
	if err != nil || sync != "off" {
		t.Fatalf("synchronous_commit in AsyncTx's first query: %q, %v; want off", sync, err)
	}
}

// A queued statement that fails fails the statement it went out with; a
// transaction a failed statement aborted does not commit, even when fn
// returns nil; and the connection serves the next transaction.
func TestPipeTx_Failures(t *testing.T) {
	t.Parallel()
	b := setupPipeline(t)
	ctx := context.Background()
	err := b.d.Tx(ctx, func(tx sqlstore.Querier) error {
		tx.(*pipeTx).later(`SELECT 1/0`)
		_, err := tx.Exec(ctx, `SELECT 1`)
		return err
	})
	if err == nil {
		t.Fatal("a failing queued statement: no error from the statement after it")
	}
	if _, err := b.pool.Exec(ctx, `CREATE TABLE pipe_probe (n int)`); err != nil {
		t.Fatal(err)
	}
	err = b.d.Tx(ctx, func(tx sqlstore.Querier) error {
		if _, err := tx.Exec(ctx, `INSERT INTO pipe_probe VALUES (1)`); err != nil {
			return err
		}
		_, _ = tx.Exec(ctx, `SELECT 1/0`) // its error ignored
		return nil
	})
	if !errors.Is(err, pgx.ErrTxCommitRollback) {
		t.Fatalf("commit after a failed statement: %v, want %v", err, pgx.ErrTxCommitRollback)
	}
	var n int
	if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM pipe_probe`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("rows of the aborted transaction: %d, %v; want 0", n, err)
	}
	// fn's own error rolls back what it did.
	_ = b.d.Tx(ctx, func(tx sqlstore.Querier) error {
		if _, err := tx.Exec(ctx, `INSERT INTO pipe_probe VALUES (2)`); err != nil {
			return err
		}
		return errors.New("changed my mind")
	})
	if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM pipe_probe`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("rows of the rolled back transaction: %d, %v; want 0", n, err)
	}
	// A deferred statement that fails fails the commit it went out with:
	// nothing of the transaction stays, and it is rolled back on the same
	// connection, which the pool keeps.
	var pid, pidAfter int
	if err := b.pool.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	err = b.d.Tx(ctx, func(tx sqlstore.Querier) error {
		if err := b.d.Defer(ctx, tx, `INSERT INTO pipe_probe VALUES ($1)`, 4); err != nil {
			return err
		}
		return b.d.Defer(ctx, tx, `SELECT 1/0`)
	})
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "22012" {
		t.Fatalf("commit after a failing deferred statement: %v, want its division by zero", err)
	}
	if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM pipe_probe`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("rows of the transaction whose deferred statement failed: %d, %v; want 0", n, err)
	}
	if err := b.pool.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pidAfter); err != nil || pidAfter != pid {
		t.Fatalf("backend after the failed commit: %d, %v; want the same connection, %d", pidAfter, err, pid)
	}
	err = b.d.Tx(ctx, func(tx sqlstore.Querier) error {
		_, err := tx.Exec(ctx, `INSERT INTO pipe_probe VALUES (3)`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM pipe_probe`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("rows after a committed transaction: %d, %v; want 1", n, err)
	}
}

// An ingest batch is three round trips when it hands deliveries off (the
// look-ups; the events' insert, the claims' lock and the leases' count;
// the deliveries' insert with the COMMIT) and two when it does not: the
// insert of its events waits for the statement after it.
func TestEventCreateMany_RoundTrips(t *testing.T) {
	t.Parallel()
	b := setupPipeline(t)
	ctx := context.Background()
	s := newStore(b.pool) // on the counted pool of one connection
	t.Cleanup(s.stop)
	if _, err := s.TenantCreate(ctx, &store.Tenant{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EndpointCreate(ctx, &store.Endpoint{TenantID: "acme", URL: "https://example.com/hook", Events: []string{"*"}, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	n := 0
	batch := func() []*store.EventCreateParams {
		ps := make([]*store.EventCreateParams, 3)
		for i := range ps {
			n++
			ps[i] = &store.EventCreateParams{Event: &store.Event{
				TenantID: "acme", ID: fmt.Sprintf("evt_%d", n), Type: "order.created",
				Data: json.RawMessage(`{"n":1}`), Hash: fmt.Sprintf("h%d", n), Source: store.SourceAPI,
			}}
		}
		return ps
	}
	for _, tc := range []struct {
		name    string
		handOff bool
		want    int64
	}{
		{"handed off", true, 3},
		{"left for a claim", false, 2},
	} {
		var got int64
		for range 2 { // the first run prepares the statements
			var h *store.HandOff
			if tc.handOff {
				h = &store.HandOff{Owner: "node-1", Until: time.Now().Add(time.Minute), Limit: 100, PerEndpoint: 100}
			}
			before := b.writes.Load()
			outs, handed, err := s.EventCreateMany(ctx, batch(), h)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range outs {
				if o.Err != nil || !o.Result.Created {
					t.Fatalf("%s: outcome %+v, want created", tc.name, o)
				}
			}
			if tc.handOff && len(handed) != 3 {
				t.Fatalf("%s: %d handed off, want 3", tc.name, len(handed))
			}
			got = b.writes.Load() - before
		}
		if got != tc.want {
			t.Errorf("%s: %d round trips, want %d", tc.name, got, tc.want)
		}
	}
}

// An event id that another transaction stores after the batch read its
// events, and before its insert, fails that insert; the batch runs again,
// each insert read back, and answers the event as a re-post rather than
// failing it.
func TestEventCreateMany_RunsAgainAfterAConcurrentInsert(t *testing.T) {
	t.Parallel()
	st := testStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := st.TenantCreate(ctx, &store.Tenant{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	// The other post, not yet committed: the batch's read does not see it.
	other, err := st.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback(ctx)
	if _, err := other.Exec(ctx, `INSERT INTO events (tenant_id, id, type, data, hash, trace_id, source, created_at)
		VALUES ('acme', 'evt_1', 'order.created', '{"n":1}', 'h1', '', 'api', now())`); err != nil {
		t.Fatal(err)
	}
	var otherPID int
	if err := other.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&otherPID); err != nil {
		t.Fatal(err)
	}
	type result struct {
		outs []store.EventCreateOutcome
		err  error
	}
	done := make(chan result, 1)
	go func() {
		outs, _, err := st.EventCreateMany(ctx, []*store.EventCreateParams{{Event: &store.Event{
			TenantID: "acme", ID: "evt_1", Type: "order.created",
			Data: json.RawMessage(`{"n":1}`), Hash: "h1", Source: store.SourceAPI,
		}}}, nil)
		done <- result{outs, err}
	}()
	// The batch's insert waits for the other transaction's row.
	blocked := func() bool {
		var n int
		_ = st.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`, otherPID).Scan(&n)
		return n > 0
	}
	waitUntil(ctx, t, blocked, func() bool { return len(done) > 0 }, "the batch's insert to wait for the other transaction")
	if err := other.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("EventCreateMany: %v, want the event answered as a re-post", r.err)
	}
	if o := r.outs[0]; o.Err != nil || o.Result.Created {
		t.Fatalf("outcome %+v (err %v), want the stored event, not created", o.Result, o.Err)
	}
}
