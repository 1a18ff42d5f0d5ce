package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlstore"
	"github.com/heraldhq/herald/internal/store/storetest"
)

// The filtered lists and the retry-now batch are each served by their
// index, in its order. The tables are nearly empty, where a sequential
// scan is always cheapest, so the plan is asked for with sequential scans,
// bitmap scans and sorts priced out: what is left is the plan the index
// allows, and a Sort or a scan of another index in it means the index
// cannot serve the query.
func TestPlans_UseIndexes(t *testing.T) {
	t.Parallel()
	base := os.Getenv("HERALD_TEST_DATABASE_URL")
	if base == "" {
		t.Skip("HERALD_TEST_DATABASE_URL is not set")
	}
	for _, tc := range storetest.PlanCases() {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			st := openSchema(t, base)
			ctx := context.Background()
			rec := &recorder{}
			recorded := &recordedStore{real: st}
			q := querier{st.pool}
			recorded.Store = sqlstore.New(recDriver{Driver: st.db, rec: rec},
				recQuerier{Querier: q, rec: rec}, recQuerier{Querier: q, rec: rec}, store.Options{})
			if err := tc.Run(ctx, recorded); err != nil {
				t.Fatalf("run: %v", err)
			}
			last, ok := rec.lastSelect()
			if !ok {
				t.Fatal("the store ran no SELECT")
			}
			var plan []string
			err := st.db.Tx(ctx, func(tx sqlstore.Querier) error {
				for _, set := range []string{"enable_seqscan", "enable_bitmapscan", "enable_sort"} {
					if _, err := tx.Exec(ctx, "SET LOCAL "+set+" = off"); err != nil {
						return err
					}
				}
				rows, err := tx.Query(ctx, "EXPLAIN "+last.sql, last.args...)
				plan, err = sqlstore.Collect(rows, err, func(r sqlstore.Row) (string, error) {
					var line string
					return line, r.Scan(&line)
				})
				return err
			})
			if err != nil {
				t.Fatalf("explain: %v\n%s", err, last.sql)
			}
			text := strings.Join(plan, "\n")
			if !strings.Contains(text, "using "+tc.Index+" ") || strings.Contains(text, "Sort") {
				t.Errorf("plan does not read %s in its order:\n%s\n\nfor\n%s", tc.Index, text, last.sql)
			}
		})
	}
}

// openSchema opens a migrated Store on a fresh schema of base's database,
// dropped when the test ends.
func openSchema(t *testing.T, base string) *Store {
	t.Helper()
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
	if err := exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	qv := u.Query()
	qv.Set("search_path", schema)
	u.RawQuery = qv.Encode()
	st, err := Open(u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

// recorder keeps the SQL a store runs, with its arguments.
type recorder struct {
	mu      sync.Mutex
	queries []recordedQuery
}

type recordedQuery struct {
	sql  string
	args []any
}

func (r *recorder) add(sql string, args []any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queries = append(r.queries, recordedQuery{sql, args})
}

func (r *recorder) lastSelect() (recordedQuery, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.queries) - 1; i >= 0; i-- {
		if strings.HasPrefix(strings.TrimSpace(r.queries[i].sql), "SELECT") {
			return r.queries[i], true
		}
	}
	return recordedQuery{}, false
}

type recQuerier struct {
	sqlstore.Querier
	rec *recorder
}

func (q recQuerier) Query(ctx context.Context, sql string, args ...any) (sqlstore.Rows, error) {
	q.rec.add(sql, args)
	return q.Querier.Query(ctx, sql, args...)
}

func (q recQuerier) QueryRow(ctx context.Context, sql string, args ...any) sqlstore.Row {
	q.rec.add(sql, args)
	return q.Querier.QueryRow(ctx, sql, args...)
}

// recDriver records what runs inside its transactions too.
type recDriver struct {
	sqlstore.Driver
	rec *recorder
}

func (d recDriver) Tx(ctx context.Context, fn func(sqlstore.Querier) error) error {
	return d.Driver.Tx(ctx, func(tx sqlstore.Querier) error { return fn(recQuerier{Querier: tx, rec: d.rec}) })
}

func (d recDriver) Notify(ctx context.Context, tx sqlstore.Querier) error {
	if q, ok := tx.(recQuerier); ok {
		tx = q.Querier
	}
	return d.Driver.Notify(ctx, tx)
}

func (d recDriver) AsyncCommit(ctx context.Context, tx sqlstore.Querier) error {
	if q, ok := tx.(recQuerier); ok {
		tx = q.Querier
	}
	return d.Driver.AsyncCommit(ctx, tx)
}

// recordedStore is the shared store over the recording driver, with the
// driver's own methods from the real store.
type recordedStore struct {
	*sqlstore.Store
	real *Store
}

var _ store.Store = (*recordedStore)(nil)

func (r *recordedStore) Migrate(ctx context.Context) error { return r.real.Migrate(ctx) }
func (r *recordedStore) MigrateUp(ctx context.Context) (*store.MigrateResult, error) {
	return r.real.MigrateUp(ctx)
}
func (r *recordedStore) Ping(ctx context.Context) error { return r.real.Ping(ctx) }
func (r *recordedStore) Close() error                   { return nil }

func (r *recordedStore) Listen(ctx context.Context) (<-chan struct{}, error) {
	return r.real.Listen(ctx)
}

func (r *recordedStore) DeliveryClaimDue(ctx context.Context, p *store.DeliveryClaimParams) ([]*store.Claimed, error) {
	return r.real.DeliveryClaimDue(ctx, p)
}
