package sqlite

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
)

// checkpointEvery is how many commits the writer makes between the
// checkpoints it asks the checkpointer for: about SQLite's own
// auto-checkpoint of 1,000 WAL pages at an ingest batch's 15 to 30 pages.
const checkpointEvery = 48

// walBackstop is the writer's own auto-checkpoint, in WAL pages, should
// the checkpointer fall behind: the WAL stays bounded (32 MiB of 4 KiB
// pages) whatever happens to it.
const walBackstop = 8000

// checkpointer copies the WAL into the database file on a connection of
// its own, beside the writer, instead of the writer doing it in the
// commit that crossed SQLite's auto-checkpoint threshold: that commit
// (and every transaction queued behind it on the single writer) waited
// for the copy, 4 to 10% of the writer's time under load
// (docs/design.md). A PASSIVE checkpoint waits for no reader or writer;
// the writer restarts the WAL from its start once a checkpoint has
// copied all of it.
type checkpointer struct {
	db      *sql.DB
	commits atomic.Int64
	runs    atomic.Int64  // checkpoints made
	kick    chan struct{} // cap 1
	stop    chan struct{}
	wg      sync.WaitGroup

	mu      sync.Mutex
	running bool
	closed  bool
}

func newCheckpointer(db *sql.DB) *checkpointer {
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return &checkpointer{db: db, kick: make(chan struct{}, 1), stop: make(chan struct{})}
}

// committed counts a commit of the writer and asks for a checkpoint every
// checkpointEvery of them. The goroutine starts on the first ask.
func (c *checkpointer) committed() {
	if c.commits.Add(1)%checkpointEvery != 0 {
		return
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if !c.running {
		c.running = true
		c.wg.Add(1)
		go c.run()
	}
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *checkpointer) run() {
	defer c.wg.Done()
	ctx := context.Background()
	for {
		select {
		case <-c.stop:
			return
		case <-c.kick:
		}
		// SQLITE_BUSY (another checkpoint running) or a failure leaves the
		// frames to the next one, or to the writer's backstop.
		_, _ = c.db.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
		c.runs.Add(1)
	}
}

// close stops the goroutine and closes the connection.
func (c *checkpointer) close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	close(c.stop)
	c.wg.Wait()
	return c.db.Close()
}
