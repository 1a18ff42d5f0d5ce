package sqlite

import (
	"context"
	"strings"
	"testing"

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
			st := openTest(t)
			ctx := context.Background()
			if err := st.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			rec := &storetest.Recorder{}
			recorded := storetest.Record(st, st.db, querier{c: st.read, stmts: st.readStmts}, querier{c: st.write, stmts: st.writeStmts}, rec)
			if err := tc.Run(ctx, recorded); err != nil {
				t.Fatalf("run: %v", err)
			}
			q, ok := rec.LastSelect()
			if !ok {
				t.Fatal("the store ran no SELECT")
			}
			rows, err := querier{c: st.read}.Query(ctx, "EXPLAIN QUERY PLAN "+q.SQL, q.Args...)
			if err != nil {
				t.Fatalf("explain: %v\n%s", err, q.SQL)
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
			// "SEARCH ... INDEX name (cond)", or "SCAN ... INDEX name" of
			// a partial index that holds only the rows wanted.
			reads := strings.Contains(text, "INDEX "+tc.Index+" ") || strings.Contains(text+"\n", "INDEX "+tc.Index+"\n")
			if !reads || strings.Contains(text, "TEMP B-TREE") {
				t.Errorf("plan does not read %s in its order:\n%s\n\nfor\n%s", tc.Index, text, q.SQL)
			}
		})
	}
}
