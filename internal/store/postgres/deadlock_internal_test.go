package postgres

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store/sqlstore"
)

// TestTx_RunsADeadlockedTransactionAgain: two transactions that lock two
// rows in opposite orders deadlock; PostgreSQL aborts one, and Tx runs it
// again instead of answering the error, so both commit.
func TestTx_RunsADeadlockedTransactionAgain(t *testing.T) {
	t.Parallel()
	// Not dbtest, which imports this package: the test's own table in the
	// database the variable names.
	url := os.Getenv("HERALD_TEST_DATABASE_URL")
	if url == "" {
		t.Skip("HERALD_TEST_DATABASE_URL is not set")
	}
	st, err := Open(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	ctx := context.Background()
	d := driver{st}
	table := fmt.Sprintf("deadlock_probe_%d", time.Now().UnixNano())
	if _, err := st.pool.Exec(ctx, `CREATE TABLE `+table+` (id int PRIMARY KEY, n int NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = st.pool.Exec(context.Background(), `DROP TABLE `+table) })
	if _, err := st.pool.Exec(ctx, `INSERT INTO `+table+` VALUES (1, 0), (2, 0)`); err != nil {
		t.Fatal(err)
	}
	// Both hold their first row before either asks for its second, on
	// their first run only: a deadlock every time.
	var first sync.WaitGroup
	first.Add(2)
	var runs atomic.Int32
	lock := func(a, b int) error {
		once := true
		return d.Tx(ctx, func(q sqlstore.Querier) error {
			runs.Add(1)
			if _, err := q.Exec(ctx, `UPDATE `+table+` SET n = n + 1 WHERE id = $1`, a); err != nil {
				return err
			}
			if once {
				once = false
				first.Done()
				first.Wait()
			}
			_, err := q.Exec(ctx, `UPDATE `+table+` SET n = n + 1 WHERE id = $1`, b)
			return err
		})
	}
	errs := make(chan error, 2)
	go func() { errs <- lock(1, 2) }()
	go func() { errs <- lock(2, 1) }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("a deadlocked transaction: %v, want it run again and committed", err)
		}
	}
	if n := runs.Load(); n < 3 {
		t.Errorf("%d runs, want 3 or more: one of the two was aborted and ran again", n)
	}
	var total int
	if err := st.pool.QueryRow(ctx, `SELECT sum(n) FROM `+table).Scan(&total); err != nil {
		t.Fatal(err)
	}
	if total != 4 {
		t.Errorf("rows moved %d times, want 4: each transaction's two updates once", total)
	}
}
