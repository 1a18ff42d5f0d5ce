package postgres

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

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
			var plan []string
			err := st.db.Tx(ctx, func(tx sqlstore.Querier) error {
				for _, set := range []string{"enable_seqscan", "enable_bitmapscan", "enable_sort"} {
					if _, err := tx.Exec(ctx, "SET LOCAL "+set+" = off"); err != nil {
						return err
					}
				}
				rows, err := tx.Query(ctx, "EXPLAIN "+last.SQL, last.Args...)
				plan, err = sqlstore.Collect(rows, err, func(r sqlstore.Row) (string, error) {
					var line string
					return line, r.Scan(&line)
				})
				return err
			})
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
	st, err := Open(pgschema.URL(t, base))
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
