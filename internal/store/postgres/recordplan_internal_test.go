package postgres

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlstore"
	"github.com/heraldhq/herald/internal/store/storetest"
)

// A batch's record finds each of its deliveries by key, in the generic
// plan PostgreSQL settles on for a prepared statement, even when the
// table's statistics were taken while nothing was leased: driven from
// deliveries_leased instead, whose rows those statistics put at one, the
// plan probed the batch's rows once per lease (docs/design.md).
func TestDeliveryRecordAttempts_GenericPlanFindsRowsByKey(t *testing.T) {
	t.Parallel()
	st := testStore(t)
	ctx := context.Background()
	mkTenant(t, st)
	mkEndpoint(t, st, "*")
	now := time.Now()
	postEvents(t, st, now, "order.created", 20)
	// Statistics of a backlog not yet claimed: no delivery leased.
	if _, err := st.pool.Exec(ctx, "ANALYZE deliveries"); err != nil {
		t.Fatal(err)
	}
	cs, err := st.DeliveryClaimDue(ctx, &store.DeliveryClaimParams{Owner: "w", Now: now.Add(time.Second), Lease: time.Minute, Limit: 300, PerEndpoint: 300})
	if err != nil || len(cs) != 300 {
		t.Fatalf("claimed %d deliveries, %v; want 300", len(cs), err)
	}
	rec := &storetest.Recorder{}
	recorded := storetest.Record(st, st.db, querier{st.pool}, querier{st.pool}, rec)
	ps := make([]*store.AttemptRecordParams, 150)
	for i := range ps {
		ps[i] = &store.AttemptRecordParams{DeliveryID: cs[i].Delivery.ID, Owner: "w", Status: store.StatusDelivered,
			Now: now.Add(2 * time.Second), Attempt: &store.Attempt{StartedAt: now, ResponseCode: 204}}
	}
	if _, err := recorded.DeliveryRecordAttempts(ctx, ps); err != nil {
		t.Fatal(err)
	}
	var update *storetest.RecordedQuery
	for _, q := range rec.Queries() {
		if strings.Contains(q.SQL, "UPDATE deliveries AS d") {
			update = &q
		}
	}
	if update == nil {
		t.Fatal("the record ran no UPDATE deliveries AS d")
	}
	plan := genericPlan(t, st, update.SQL, update.Args)
	if !strings.Contains(plan, "Index Scan using deliveries_pkey on deliveries d") || strings.Contains(plan, "deliveries_leased") {
		t.Errorf("generic plan of the record does not find each delivery by key:\n%s", plan)
	}
}

// genericPlan is the plan PostgreSQL's generic plan of the prepared
// statement sql would run with args: PREPARE, then EXPLAIN EXECUTE with
// plan_cache_mode forced, the arguments written out as literals of the
// array types their placeholders are cast to (PostgreSQL 15's EXPLAIN
// takes no bound parameters).
func genericPlan(t *testing.T, st *Store, sql string, args []any) string {
	t.Helper()
	ctx := context.Background()
	sql, args, err := expand(sql, args)
	if err != nil {
		t.Fatal(err)
	}
	lits := make([]string, len(args))
	for i := range args {
		m := regexp.MustCompile(fmt.Sprintf(`\$%d::(\w+)\[\]`, i+1)).FindStringSubmatch(sql)
		if m == nil {
			t.Fatalf("no array type for $%d in\n%s", i+1, sql)
		}
		if err := st.pool.QueryRow(ctx, fmt.Sprintf("SELECT quote_literal($1::%s[]::text) || '::%s[]'", m[1], m[1]), args[i]).Scan(&lits[i]); err != nil {
			t.Fatal(err)
		}
	}
	var plan []string
	err = st.db.Tx(ctx, func(tx sqlstore.Querier) error {
		if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = force_generic_plan"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "PREPARE generic_plan AS "+sql); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, "EXPLAIN EXECUTE generic_plan("+strings.Join(lits, ", ")+")")
		plan, err = sqlstore.Collect(rows, err, func(r sqlstore.Row) (string, error) {
			var line string
			return line, r.Scan(&line)
		})
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "DEALLOCATE generic_plan")
		return err
	})
	if err != nil {
		t.Fatalf("explain the generic plan: %v\n%s", err, sql)
	}
	return strings.Join(plan, "\n")
}
