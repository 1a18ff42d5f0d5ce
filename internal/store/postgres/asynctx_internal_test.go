package postgres

import (
	"context"
	"testing"

	"github.com/heraldhq/herald/internal/store/sqlstore"
)

// AsyncTx's transaction commits without waiting for the WAL flush, and
// only it: a Tx after it, on the same pool, waits again.
func TestAsyncTx_SynchronousCommitOffForItsTransactionOnly(t *testing.T) {
	t.Parallel()
	st := testStore(t)
	ctx := context.Background()
	d := driver{st}
	setting := func(tx sqlstore.Querier) string {
		var v string
		if err := tx.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	for range 3 { // the pool's connections are reused
		var async, sync string
		if err := d.AsyncTx(ctx, func(tx sqlstore.Querier) error { async = setting(tx); return nil }); err != nil {
			t.Fatal(err)
		}
		if err := d.Tx(ctx, func(tx sqlstore.Querier) error { sync = setting(tx); return nil }); err != nil {
			t.Fatal(err)
		}
		if async != "off" || sync != "on" {
			t.Fatalf("synchronous_commit: %q in AsyncTx, %q in Tx; want off and on", async, sync)
		}
	}
}
