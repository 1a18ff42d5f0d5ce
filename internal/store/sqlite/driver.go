package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store/sqlstore"
)

// driver is what SQLite supplies to the shared store: its two pools, how
// values are bound and read back, and its error codes.
type driver struct{ s *Store }

var _ sqlstore.Driver = driver{}

// Tx runs fn in an IMMEDIATE transaction on the writer, committing when it
// returns nil, and wakes the workers after the commit if fn asked to.
func (d driver) Tx(ctx context.Context, fn func(sqlstore.Querier) error) error {
	tx, err := d.s.write.BeginTx(ctx, nil)
	if err != nil {
		return markUnavailable(err)
	}
	q := &txQuerier{querier: querier{tx}}
	if err := fn(q); err != nil {
		return markUnavailable(errors.Join(err, ignoreDone(tx.Rollback())))
	}
	if err := tx.Commit(); err != nil {
		return markUnavailable(err)
	}
	if q.wake {
		d.s.wake()
	}
	return nil
}

// Notify wakes the workers once the transaction commits: after it, never
// inside it, so a woken worker always sees the new rows.
func (driver) Notify(_ context.Context, tx sqlstore.Querier) error {
	q, ok := tx.(*txQuerier)
	if !ok {
		return fmt.Errorf("sqlite: notify outside a transaction")
	}
	q.wake = true
	return nil
}

// AsyncCommit does nothing: synchronous=NORMAL in WAL mode already commits
// without an fsync, for every transaction.
func (driver) AsyncCommit(context.Context, sqlstore.Querier) error { return nil }

func (driver) Classify(err error) sqlstore.Kind {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return sqlstore.KindOther
	}
	switch c := se.Code(); {
	case c == sqlite3.SQLITE_CONSTRAINT_UNIQUE, c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return sqlstore.KindUnique
	case c == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return sqlstore.KindForeignKey
	case unavailable(err):
		return sqlstore.KindUnavailable
	}
	return sqlstore.KindOther
}

// LockClause is empty: the single writer connection and IMMEDIATE
// transactions serialize every writer already.
func (driver) LockClause(sqlstore.Lock) string { return "" }

// InList reads the list argument as the JSON array bind writes.
func (driver) InList(col string, n int) string {
	return fmt.Sprintf("%s IN (SELECT value FROM json_each(?%d))", col, n)
}

func (driver) Zip(a, b int) string {
	return fmt.Sprintf(`(SELECT ja.value AS id, jb.value AS endpoint_id
		FROM json_each(?%d) ja JOIN json_each(?%d) jb ON jb.key = ja.key) AS n`, a, b)
}

// markUnavailable marks a transaction's busy failure herald.ErrUnavailable,
// whatever fn wrapped it in.
func markUnavailable(err error) error {
	if err != nil && unavailable(err) && !errors.Is(err, herald.ErrUnavailable) {
		return fmt.Errorf("%w: %w", herald.ErrUnavailable, err)
	}
	return err
}

func ignoreDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}

// unavailable reports whether err is SQLITE_BUSY or SQLITE_LOCKED past the
// busy timeout: another process holds the database, and the request may
// succeed if retried.
func unavailable(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && (se.Code()&0xff == sqlite3.SQLITE_BUSY || se.Code()&0xff == sqlite3.SQLITE_LOCKED)
}

// conn is what *sql.DB and *sql.Tx have in common.
type conn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// querier runs the shared store's SQL on SQLite: $N placeholders become
// ?N, and values are bound and scanned as the schema keeps them.
type querier struct{ c conn }

// txQuerier is a querier inside Tx; wake says Notify was called.
type txQuerier struct {
	querier
	wake bool
}

func (q querier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := q.c.ExecContext(ctx, rewrite(query), bind(args)...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q querier) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	rows, err := q.c.QueryContext(ctx, rewrite(query), bind(args)...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (q querier) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return sqlRow{q.c.QueryRowContext(ctx, rewrite(query), bind(args)...)}
}

type sqlRow struct{ r *sql.Row }

func (r sqlRow) Scan(dest ...any) error {
	dest, done := scanTargets(dest)
	err := r.r.Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return sqlstore.ErrNoRows
	}
	if err != nil {
		return err
	}
	done()
	return nil
}

type sqlRows struct{ r *sql.Rows }

func (r sqlRows) Next() bool { return r.r.Next() }
func (r sqlRows) Err() error { return r.r.Err() }
func (r sqlRows) Close()     { _ = r.r.Close() }

func (r sqlRows) Scan(dest ...any) error {
	dest, done := scanTargets(dest)
	if err := r.r.Scan(dest...); err != nil {
		return err
	}
	done()
	return nil
}

// placeholders are rewritten once per query text: the shared store's SQL is
// a fixed set of strings.
var (
	placeholder = regexp.MustCompile(`\$(\d+)`)
	rewritten   sync.Map // string -> string
)

// rewrite turns PostgreSQL's $N into SQLite's ?N.
func rewrite(query string) string {
	if v, ok := rewritten.Load(query); ok {
		return v.(string)
	}
	out := placeholder.ReplaceAllString(query, "?$1")
	rewritten.Store(query, out)
	return out
}

// bind converts arguments to what the schema stores: times as unix
// microseconds, a nil pointer as NULL, a list of strings as a JSON array
// (read with json_each).
func bind(args []any) []any {
	out := make([]any, len(args))
	for i, v := range args {
		switch x := v.(type) {
		case time.Time:
			out[i] = x.UnixMicro()
		case *time.Time:
			if x != nil {
				out[i] = x.UnixMicro()
			}
		case *string:
			if x != nil {
				out[i] = *x
			}
		case []string:
			if x == nil {
				x = []string{}
			}
			b, _ := json.Marshal(x) // cannot fail on strings
			out[i] = string(b)
		default:
			out[i] = v
		}
	}
	return out
}

// scanTargets replaces time targets with integers to scan into, and returns
// the function that converts them back once the row is scanned.
func scanTargets(dest []any) ([]any, func()) {
	var fix []func()
	out := dest
	for i, d := range dest {
		switch t := d.(type) {
		case *time.Time:
			if fix == nil {
				out = append([]any(nil), dest...)
			}
			var v int64
			out[i] = &v
			fix = append(fix, func() { *t = time.UnixMicro(v).UTC() })
		case **time.Time:
			if fix == nil {
				out = append([]any(nil), dest...)
			}
			var v sql.NullInt64
			out[i] = &v
			fix = append(fix, func() {
				*t = nil
				if v.Valid {
					tv := time.UnixMicro(v.Int64).UTC()
					*t = &tv
				}
			})
		}
	}
	return out, func() {
		for _, f := range fix {
			f()
		}
	}
}
