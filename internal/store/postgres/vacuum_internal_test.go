package postgres

import (
	"context"
	"slices"
	"testing"
	"time"
)

// Vacuum vacuums a table of the schema whose dead rows passed the
// threshold, and leaves alone those with few changes.
func TestVacuum_TablesWithManyDeadRows(t *testing.T) {
	t.Parallel()
	st := testStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, q := range []string{
		`CREATE TABLE churn (n int)`,
		`INSERT INTO churn SELECT generate_series(1, 2 * 10000)`,
		`DELETE FROM churn`,
	} {
		if _, err := st.pool.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// The statistics reach pg_stat_user_tables within a second or so of
	// the commit, from another backend.
	var vacuumed []string
	for !slices.Contains(vacuumed, "churn") {
		if ctx.Err() != nil {
			t.Fatalf("churn's 20,000 dead rows were never vacuumed; last run did %v", vacuumed)
		}
		var err error
		if vacuumed, err = st.Vacuum(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if slices.Contains(vacuumed, "tenants") {
		t.Errorf("vacuumed %v: tenants has a row or two, not a table to vacuum", vacuumed)
	}
	var n int
	if err := st.pool.QueryRow(ctx, `SELECT vacuum_count FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname = 'churn'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n < 1 {
		t.Errorf("churn's vacuum_count is %d after Vacuum named it, want at least 1", n)
	}
}
