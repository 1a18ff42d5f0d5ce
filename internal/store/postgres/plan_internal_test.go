package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest/pgschema"
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
			rec := &storetest.Recorder{}
			recorded := storetest.Record(st, st.db, querier{st.pool}, querier{st.pool}, rec)
			if err := tc.Run(ctx, recorded); err != nil {
				t.Fatalf("run: %v", err)
			}
			last, ok := rec.LastSelect()
			if !ok {
				t.Fatal("the store ran no SELECT")
			}
			plan, err := explain(ctx, st, last.SQL, last.Args, "enable_seqscan", "enable_bitmapscan", "enable_sort")
			if err != nil {
				t.Fatalf("explain: %v\n%s", err, last.SQL)
			}
			text := strings.Join(plan, "\n")
			if !strings.Contains(text, "using "+tc.Index+" ") || strings.Contains(text, "Sort") {
				t.Errorf("plan does not read %s in its order:\n%s\n\nfor\n%s", tc.Index, text, last.SQL)
			}
		})
	}
}

// explain is PostgreSQL's plan of sql with args, the planner settings off
// (SET LOCAL ... = off) in the transaction it is explained in.
func explain(ctx context.Context, st *Store, sql string, args []any, off ...string) ([]string, error) {
	var plan []string
	err := st.db.Tx(ctx, func(tx sqlstore.Querier) error {
		for _, set := range off {
			if _, err := tx.Exec(ctx, "SET LOCAL "+set+" = off"); err != nil {
				return err
			}
		}
		rows, err := tx.Query(ctx, "EXPLAIN "+sql, args...)
		plan, err = sqlstore.Collect(rows, err, func(r sqlstore.Row) (string, error) {
			var line string
			return line, r.Scan(&line)
		})
		return err
	})
	return plan, err
}

// testStore is openSchema on HERALD_TEST_DATABASE_URL's database, or
// skips the test when it is not set.
func testStore(t *testing.T) *Store {
	t.Helper()
	base := os.Getenv("HERALD_TEST_DATABASE_URL")
	if base == "" {
		t.Skip("HERALD_TEST_DATABASE_URL is not set")
	}
	return openSchema(t, base)
}

// openSchema opens a migrated Store on a fresh schema of base's database,
// dropped when the test ends.
func openSchema(t *testing.T, base string) *Store {
	t.Helper()
	return openURL(t, pgschema.URL(t, base))
}

// openURL opens a migrated Store on the database u names, closed when
// the test ends.
func openURL(t *testing.T, u string) *Store {
	t.Helper()
	st, err := Open(u)
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

// Ingest's look-ups of tenants, keys and endpoints are planned once,
// generically (Driver.GenericPlans): left to itself PostgreSQL planned
// them anew at every batch. On a pool of one connection, eight batches
// with a hand-off later, none of those statements was ever planned for
// its arguments (pg_prepared_statements counts the custom plans of each;
// PostgreSQL makes the first five custom unless told not to), and the
// leases' count, whose generic plan is slow beside a backlog, never
// generically.
func TestEventCreateMany_PlansOnce(t *testing.T) {
	t.Parallel()
	base := os.Getenv("HERALD_TEST_DATABASE_URL")
	if base == "" {
		t.Skip("HERALD_TEST_DATABASE_URL is not set")
	}
	u, err := url.Parse(pgschema.URL(t, base))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("pool_max_conns", "1")
	u.RawQuery = q.Encode()
	st := openURL(t, u.String())
	ctx := context.Background()
	if _, err := st.TenantCreate(ctx, &store.Tenant{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.EndpointCreate(ctx, &store.Endpoint{TenantID: "acme", URL: "https://example.com/hook", Events: []string{"order.created"}, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	for b := range 8 {
		ps := make([]*store.EventCreateParams, 3)
		for i := range ps {
			ps[i] = &store.EventCreateParams{Event: &store.Event{
				TenantID: "acme", ID: fmt.Sprintf("evt_%d_%d", b, i), Type: "order.created",
				Data: json.RawMessage(`{"n":1}`), Hash: fmt.Sprintf("h%d_%d", b, i), Source: store.SourceAPI,
			}}
		}
		h := &store.HandOff{Owner: "node-1", Until: time.Now().Add(time.Minute), Limit: 100, PerEndpoint: 16, PerTenant: 96}
		outs, _, err := st.EventCreateMany(ctx, ps, h)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range outs {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
		}
	}
	rows, err := st.pool.Query(ctx, `SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	for rows.Next() {
		var sql string
		var generic, custom int64
		if err := rows.Scan(&sql, &generic, &custom); err != nil {
			t.Fatal(err)
		}
		for mark, generic8 := range map[string]bool{
			"SELECT id FROM tenants WHERE":         true,
			"FROM endpoints ep WHERE ep.tenant_id": true,
			"sum(CASE WHEN lease_owner":            false,
		} {
			if !strings.Contains(sql, mark) {
				continue
			}
			seen[mark] = true
			switch {
			case generic8 && (custom > 0 || generic < 8):
				t.Errorf("%d custom and %d generic plans in 8 batches, want 0 and 8, of\n%s", custom, generic, sql)
			case !generic8 && generic > 0:
				t.Errorf("%d generic plans in 8 batches, want none (planned for its arguments), of\n%s", generic, sql)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 3 {
		t.Errorf("found the statements of %v only among the connection's prepared statements", seen)
	}
}
