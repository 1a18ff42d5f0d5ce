package sqlite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store/sqlstore"
)

// The writer's transactions are copied from the WAL into the database file by
// the checkpointer, every checkpointEvery commits, long before the
// writer's own backstop of walBackstop pages would.
func TestCheckpointer_CopiesTheWALBesideTheWriter(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "herald.db")
	st, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	size := func(p string) int64 {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size(path)
	for i := range checkpointEvery {
		err := st.db.Tx(ctx, func(tx sqlstore.Querier) error {
			_, err := tx.Exec(ctx, `INSERT INTO tenants (id, name, created_at, updated_at) VALUES ($1, 'T', $2, $2)`, fmt.Sprintf("t%d", i), time.Now())
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); st.ckpt.runs.Load() == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint after %d commits", checkpointEvery)
		}
		time.Sleep(time.Millisecond)
	}
	if wal := size(path + "-wal"); wal/4096 >= walBackstop {
		t.Fatalf("the WAL holds %d pages, past the backstop", wal/4096)
	}
	if after := size(path); after <= before {
		t.Fatalf("database file %d bytes after the checkpoint, %d before: nothing was copied into it", after, before)
	}
	// A Store closed stops its checkpointer; Close twice is harmless.
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.ckpt.close(); err != nil {
		t.Fatal(err)
	}
}
