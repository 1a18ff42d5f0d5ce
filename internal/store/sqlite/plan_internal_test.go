package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlstore"
	"github.com/heraldhq/herald/internal/store/storetest"
)

// The filtered lists and the retry-now batch are each served by their
// index, in its order: SQLite's plan of the SELECT the store ran neither
// scans the table nor sorts the rows in a temporary b-tree.
func TestPlans_UseIndexes(t *testing.T) {
	t.Parallel()
	for _, tc := range storetest.PlanCases() {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			st, err := Open(filepath.Join(t.TempDir(), "herald.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			ctx := context.Background()
			if err := st.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			rec := &recorder{}
			recorded := &recordedStore{real: st}
			recorded.Store = sqlstore.New(recDriver{Driver: st.db, rec: rec},
				recQuerier{Querier: querier{c: st.read, stmts: st.readStmts}, rec: rec},
				recQuerier{Querier: querier{c: st.write, stmts: st.writeStmts}, rec: rec}, store.Options{})
			if err := tc.Run(ctx, recorded); err != nil {
				t.Fatalf("run: %v", err)
			}
			q, ok := rec.lastSelect()
			if !ok {
				t.Fatal("the store ran no SELECT")
			}
			rows, err := querier{c: st.read}.Query(ctx, "EXPLAIN QUERY PLAN "+q.sql, q.args...)
			if err != nil {
				t.Fatalf("explain: %v\n%s", err, q.sql)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			text := strings.Join(plan, "\n")
			if !strings.Contains(text, "INDEX "+tc.Index+" ") || strings.Contains(text, "TEMP B-TREE") {
				t.Errorf("plan does not read %s in its order:\n%s\n\nfor\n%s", tc.Index, text, q.sql)
			}
		})
	}
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
