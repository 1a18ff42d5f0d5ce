package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/heraldhq/herald/internal/store/sqlstore"
)

// pipeTx is a transaction whose statements that answer nothing but
// success (its BEGIN and SET LOCAL, the claims' lock, a notification)
// wait to go out with the next statement that does, or with the COMMIT,
// in one round trip: a pgx batch, which PostgreSQL runs in order, each
// statement in a snapshot of its own, so a statement queued behind the
// claims' lock runs once the lock is held, as it would after a round trip
// of its own. An ingest batch made nine round trips and a claim four, each
// 0.5 to 0.9 ms under load; BEGIN and the lock now ride along
// (docs/design.md). A transaction that runs no statement sends nothing.
type pipeTx struct {
	c       *pgx.Conn
	pending []queued
	work    bool // a statement other than the BEGIN's was queued or sent
	begun   bool // the BEGIN was sent
	done    bool // committed or rolled back
}

// queued is a statement waiting to go out with the next.
type queued struct {
	sql  string
	args []any
}

var _ sqlstore.Querier = (*pipeTx)(nil)

// runTx runs fn in a transaction begun by the statements begin, on a
// connection of the pool, committing when fn returns nil.
func (d driver) runTx(ctx context.Context, begin []string, fn func(sqlstore.Querier) error) error {
	c, err := d.s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// A connection given back inside a transaction (a rollback that
	// failed) is closed by the pool, not reused.
	defer c.Release()
	t := &pipeTx{c: c.Conn()}
	for _, q := range begin {
		t.pending = append(t.pending, queued{sql: q})
	}
	defer func() {
		if t.begun && !t.done {
			// fn failed or panicked.
			t.done = true
			_, _ = t.c.Exec(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	if err := fn(t); err != nil {
		return err
	}
	return t.commit(ctx)
}

// later queues a statement that answers nothing but success to go out
// with the next one.
func (t *pipeTx) later(sql string, args ...any) {
	t.pending = append(t.pending, queued{sql: sql, args: args})
	t.work = true
}

// send sends the pending statements and sql in one batch and reads the
// pending ones' answers, leaving sql's for the caller to read before
// closing the batch. Without pending statements it returns nil: the
// caller runs sql on its own.
func (t *pipeTx) send(ctx context.Context, sql string, args []any) (pgx.BatchResults, error) {
	t.work = true
	if len(t.pending) == 0 {
		return nil, nil
	}
	return t.flush(ctx, []queued{{sql: sql, args: args}})
}

// flush sends the pending statements and then qs in one batch and reads
// the pending ones' answers, leaving qs' for the caller to read before
// closing the batch.
func (t *pipeTx) flush(ctx context.Context, qs []queued) (pgx.BatchResults, error) {
	b := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(t.pending)+len(qs))}
	for _, q := range append(t.pending, qs...) {
		b.Queue(q.sql, q.args...)
	}
	n := len(t.pending)
	t.pending = t.pending[:0]
	t.begun = true
	br := t.c.SendBatch(ctx, b)
	for range n {
		if _, err := br.Exec(); err != nil {
			return nil, errors.Join(err, br.Close())
		}
	}
	return br, nil
}

// batch sends the pending statements and stmts in one round trip and
// reads each of stmts' rows into its Scan, in order.
func (t *pipeTx) batch(ctx context.Context, stmts []sqlstore.Stmt) (err error) {
	t.work = true
	qs := make([]queued, len(stmts))
	for i, st := range stmts {
		if qs[i].sql, qs[i].args, err = expand(st.SQL, st.Args); err != nil {
			return err
		}
	}
	br, err := t.flush(ctx, qs)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := br.Close(); err == nil {
			err = cerr
		}
	}()
	for _, st := range stmts {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		for rows.Next() {
			if err := st.Scan(rows); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

func (t *pipeTx) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	sql, args, err := expand(sql, args)
	if err != nil {
		return 0, err
	}
	tag, err := t.exec(ctx, sql, args)
	return tag.RowsAffected(), err
}

// exec runs sql, with what is pending ahead of it.
func (t *pipeTx) exec(ctx context.Context, sql string, args []any) (pgconn.CommandTag, error) {
	br, err := t.send(ctx, sql, args)
	switch {
	case err != nil:
		return pgconn.CommandTag{}, err
	case br == nil:
		return t.c.Exec(ctx, sql, args...)
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

func (t *pipeTx) Query(ctx context.Context, sql string, args ...any) (sqlstore.Rows, error) {
	sql, args, err := expand(sql, args)
	if err != nil {
		return nil, err
	}
	br, err := t.send(ctx, sql, args)
	if err != nil {
		return nil, err
	}
	if br == nil {
		return t.c.Query(ctx, sql, args...)
	}
	rows, err := br.Query()
	if err != nil {
		return nil, errors.Join(err, br.Close())
	}
	return &batchRows{Rows: rows, br: br}, nil
}

func (t *pipeTx) QueryRow(ctx context.Context, sql string, args ...any) sqlstore.Row {
	sql, args, err := expand(sql, args)
	if err != nil {
		return errRow{err}
	}
	br, err := t.send(ctx, sql, args)
	if err != nil {
		return errRow{err}
	}
	if br == nil {
		return pgRow{t.c.QueryRow(ctx, sql, args...)}
	}
	return batchRow{br}
}

// commit sends what is pending with the COMMIT (a statement deferred,
// Driver.Defer, a notification). PostgreSQL answers the
// COMMIT of a transaction a failed statement aborted with ROLLBACK, not
// an error: that is an error here.
func (t *pipeTx) commit(ctx context.Context) error {
	t.done = true
	if !t.work {
		return nil
	}
	tag, err := t.exec(ctx, "COMMIT", nil)
	if err != nil {
		// A statement that went out with the COMMIT failed, and the
		// COMMIT was skipped: the transaction is still open, and runTx
		// rolls it back rather than give the pool a connection inside it.
		t.done = false
		return err
	}
	if tag.String() == "ROLLBACK" {
		return pgx.ErrTxCommitRollback
	}
	return nil
}

// batchRows are the rows of a batch's last statement; the batch closes
// with them.
type batchRows struct {
	pgx.Rows
	br     pgx.BatchResults
	closed bool
	err    error
}

func (r *batchRows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.Close()
	return false
}

func (r *batchRows) Err() error {
	if err := r.Rows.Err(); err != nil {
		return err
	}
	return r.err
}

func (r *batchRows) Close() {
	if r.closed {
		return
	}
	r.closed = true
	r.Rows.Close()
	r.err = r.br.Close()
}

// batchRow is the one row of a batch's last statement; the batch closes
// once it is scanned.
type batchRow struct{ br pgx.BatchResults }

func (r batchRow) Scan(dest ...any) error {
	err := pgRow{r.br.QueryRow()}.Scan(dest...)
	if cerr := r.br.Close(); err == nil {
		err = cerr
	}
	return err
}
