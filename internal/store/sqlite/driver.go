package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
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
	q := &txQuerier{querier: querier{c: tx, stmts: d.s.writeStmts, tx: tx}}
	if err := fn(q); err != nil {
		return markUnavailable(errors.Join(err, ignoreDone(tx.Rollback())))
	}
	if err := tx.Commit(); err != nil {
		return markUnavailable(err)
	}
	d.s.writeStmts.prepareWanted(ctx)
	d.s.ckpt.committed()
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

// Batch runs the queries one after another: SQLite runs in this process,
// there is no round trip to save.
func (driver) Batch(ctx context.Context, tx sqlstore.Querier, stmts ...sqlstore.Stmt) error {
	return sqlstore.RunBatch(ctx, tx, stmts...)
}

// Remote is false: SQLite runs in this process.
func (driver) Remote() bool { return false }

// LockClaims does nothing: the single writer serializes claims already.
func (driver) LockClaims(context.Context, sqlstore.Querier) error { return nil }

// Defer runs sql now: SQLite runs in this process, there is no round trip
// to save.
func (driver) Defer(ctx context.Context, tx sqlstore.Querier, sql string, args ...any) error {
	_, err := tx.Exec(ctx, sql, args...)
	return err
}

// GenericPlans does nothing: a statement is planned when it is prepared,
// once, and the writer's are prepared once for the Store's life.
func (driver) GenericPlans(context.Context, sqlstore.Querier, bool) error { return nil }

// AsyncTx is Tx: synchronous=NORMAL in WAL mode already commits without
// an fsync (the WAL is synced at checkpoints).
func (d driver) AsyncTx(ctx context.Context, fn func(sqlstore.Querier) error) error {
	return d.Tx(ctx, fn)
}

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
	// SQLite's refusals of a value as such, PostgreSQL's class 22: a text
	// or blob longer than SQLITE_MAX_LENGTH, a value of the wrong type
	// where only one will do (a rowid).
	case c&0xff == sqlite3.SQLITE_TOOBIG, c&0xff == sqlite3.SQLITE_MISMATCH:
		return sqlstore.KindInvalid
	case unavailable(err):
		return sqlstore.KindUnavailable
	}
	return sqlstore.KindOther
}

// LockClause is empty: the single writer connection and IMMEDIATE
// transactions serialize every writer already.
func (driver) LockClause(sqlstore.Lock) string { return "" }

// IndexHint is SQLite's INDEXED BY: without sqlite_stat1 its planner
// guesses every equality alike, and given a window on created_at as well
// as the cursor it reads the tenant's whole list index (one equality, two
// ranges) rather than the filter's (two equalities, the same ranges).
// INDEXED BY also makes a query that could not use the index fail at
// once rather than scan.
func (driver) IndexHint(index string) string { return " INDEXED BY " + index }

// InList reads the list argument as the JSON array bind writes.
func (driver) InList(col string, n int) string {
	return fmt.Sprintf("%s IN (SELECT value FROM json_each(?%d))", col, n)
}

// Rows reads the Table argument as a VALUES list, which the querier
// writes out with one bound parameter per cell (expand): times are unix
// microseconds and bytes blobs, as the schema keeps them. The JSON array
// it was before cost a batch's record more than the writes themselves:
// every attempt's body went in as hex, which json_each and ->> parsed
// once per column, and unhex decoded (docs/design.md). expand pads the
// list with rows of NULLs up to a size of its few (tableRows), so that
// each statement has a few texts to keep prepared; they are left out
// here by their first column, which a row of the table never has NULL
// (sqlstore.Driver.Rows).
func (driver) Rows(n int, alias string, cols ...sqlstore.Col) string {
	var b strings.Builder
	b.WriteString("(SELECT ")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "column%d AS %s", i+1, c.Name)
	}
	fmt.Fprintf(&b, " FROM (VALUES $%d) WHERE column1 IS NOT NULL) AS %s", n, alias)
	return b.String()
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
// ?N, values are bound and scanned as the schema keeps them, and
// statements are prepared once and reused.
type querier struct {
	c     conn
	stmts *stmtCache
	tx    *sql.Tx // set inside Tx: cached statements run on it
}

// stmtCache keeps the prepared statements of one pool by query text.
// database/sql prepares nothing by itself, and parsing the SQL again on
// every call was a fifth of the CPU of ingest on SQLite.
//
// A statement is prepared on the pool, never inside a transaction: the
// writer pool has one connection, which the transaction holds. So a
// transaction runs a statement it meets first unprepared and marks it
// wanted, and Tx prepares what was wanted once the connection is free
// again; from then on the transaction's Stmt reuses the connection's.
type stmtCache struct {
	db     *sql.DB
	m      sync.Map // string -> *sql.Stmt
	wanted sync.Map // string -> struct{}: met inside a transaction first
}

// maxCachedArgs keeps statements of very many arguments out of the cache.
// The multi-row inserts of a batch come in at most insertChunk rows (32), so
// a few dozen texts cover them all, and kept prepared they cost a quarter
// less per batch (BenchmarkBatch, 64 events at fan-out 1: 4.1 -> 3.3 ms).
const maxCachedArgs = 400

func newStmtCache(db *sql.DB) *stmtCache { return &stmtCache{db: db} }

// stmt is the prepared statement for query on q's pool or transaction, or
// nil when query is not to be cached (prepare says which are).
func (q querier) stmt(ctx context.Context, query string, cache bool) (*sql.Stmt, error) {
	if q.stmts == nil || !cache {
		return nil, nil
	}
	v, ok := q.stmts.m.Load(query)
	if !ok && q.tx != nil {
		q.stmts.wanted.Store(query, struct{}{})
		return nil, nil
	}
	if !ok {
		st, err := q.stmts.db.PrepareContext(ctx, query)
		if err != nil {
			return nil, err
		}
		if v, ok = q.stmts.m.LoadOrStore(query, st); ok {
			st.Close() // another caller prepared it first
		}
	}
	st := v.(*sql.Stmt)
	if q.tx != nil {
		return q.tx.StmtContext(ctx, st), nil
	}
	return st, nil
}

// prepareWanted prepares the statements transactions met unprepared. A
// statement that fails to prepare is left to run unprepared.
func (c *stmtCache) prepareWanted(ctx context.Context) {
	c.wanted.Range(func(k, _ any) bool {
		c.wanted.Delete(k)
		if _, ok := c.m.Load(k); ok {
			return true
		}
		st, err := c.db.PrepareContext(ctx, k.(string))
		if err != nil {
			return true
		}
		if _, loaded := c.m.LoadOrStore(k, st); loaded {
			st.Close()
		}
		return true
	})
}

// close closes every cached statement.
func (c *stmtCache) close() error {
	var errs []error
	c.m.Range(func(k, v any) bool {
		errs = append(errs, v.(*sql.Stmt).Close())
		c.m.Delete(k)
		return true
	})
	return errors.Join(errs...)
}

// txQuerier is a querier inside Tx; wake says Notify was called.
type txQuerier struct {
	querier
	wake bool
}

func (q querier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	query, args, cache, err := prepare(query, args)
	if err != nil {
		return 0, err
	}
	st, err := q.stmt(ctx, query, cache)
	if err != nil {
		return 0, err
	}
	var res sql.Result
	if st != nil {
		res, err = st.ExecContext(ctx, args...)
	} else {
		res, err = q.c.ExecContext(ctx, query, args...)
	}
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q querier) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	query, args, cache, err := prepare(query, args)
	if err != nil {
		return nil, err
	}
	st, err := q.stmt(ctx, query, cache)
	if err != nil {
		return nil, err
	}
	var rows *sql.Rows
	if st != nil {
		rows, err = st.QueryContext(ctx, args...)
	} else {
		rows, err = q.c.QueryContext(ctx, query, args...)
	}
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (q querier) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	query, args, cache, err := prepare(query, args)
	if err != nil {
		return errRow{err}
	}
	st, err := q.stmt(ctx, query, cache)
	switch {
	case err != nil:
		return errRow{err}
	case st != nil:
		return sqlRow{st.QueryRowContext(ctx, args...)}
	}
	return sqlRow{q.c.QueryRowContext(ctx, query, args...)}
}

// errRow is a row whose query could not be prepared.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

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
	limit     = regexp.MustCompile(`(?i)\bLIMIT\s+\$(\d+)`)
	rewritten sync.Map // string -> string
	limits    sync.Map // string -> string: limited's
)

// limited is query with LIMIT $N as LIMIT ($N + 0) (see rewrite), worked
// out once per text for expand, whose output is not kept: its queries
// are the store's fixed texts, whatever the size of their tables.
func limited(query string) string {
	if v, ok := limits.Load(query); ok {
		return v.(string)
	}
	out := limit.ReplaceAllString(query, "LIMIT ($$$1 + 0)")
	limits.Store(query, out)
	return out
}

// rewrite turns PostgreSQL's $N into SQLite's ?N (or ?, see inOrder),
// and LIMIT $N into LIMIT (?N + 0). SQLite plans a bare bound LIMIT with
// its value and marks the statement expired whenever that parameter is
// bound again, so every run
// of a prepared statement with LIMIT ?N was parsed and planned anew: 10%
// of the CPU of a loaded node went to sqlite3Reprepare under the claim,
// and the claim's pick ran 12x slower than with the expression, which the
// planner treats as a value known only at run time (docs/design.md).
// Statements of more than maxCachedArgs arguments (the multi-row inserts
// of a batch, one text per row count) are rewritten each time rather than
// kept, as the statement cache does.
func rewrite(query string, nargs int) string {
	if v, ok := rewritten.Load(query); ok {
		return v.(string)
	}
	out := limit.ReplaceAllString(query, "LIMIT ($$$1 + 0)")
	out = numbered(out, !inOrder(out, nargs))
	if nargs <= maxCachedArgs {
		rewritten.Store(query, out)
	}
	return out
}

// prepare is the SQLite text of query and its arguments bound: rewrite's,
// or expand's when an argument is a Table; and whether the statement is
// kept prepared: up to maxCachedArgs arguments, and of a table up to
// maxCachedRows rows in a power of two (tableRows), so the cache holds a
// bounded number of texts.
func prepare(query string, args []any) (string, []any, bool, error) {
	rows := 0
	for _, a := range args {
		if t, ok := a.(sqlstore.Table); ok {
			rows = max(rows, len(t))
		}
	}
	if rows == 0 {
		return rewrite(query, len(args)), bind(args), len(args) <= maxCachedArgs, nil
	}
	query, args, err := expand(query, args)
	return query, args, rows <= maxCachedRows, err
}

// maxCachedRows is the largest table whose statement is kept prepared.
// expand pads a table to a power of two rows (tableRows), so a statement
// has at most nine texts of up to this many; a record batch of more than
// 16 attempts, which every busy node writes, used to be a text of its own
// size, prepared anew each time: a quarter of the record's time on the
// writer at fan-out 1 (docs/design.md).
const maxCachedRows = 256

// tableRows is how many rows expand writes for a table of n: n rounded up
// to a power of two, up to maxCachedRows; n itself beyond.
func tableRows(n int) int {
	if n > maxCachedRows {
		return n
	}
	r := 1
	for r < n {
		r <<= 1
	}
	return r
}

// maxVariables is the most parameters SQLite binds in one statement
// (SQLITE_MAX_VARIABLE_NUMBER).
const maxVariables = 32766

// expand writes query with its placeholders anonymous, in the order they
// appear, each Table argument as the rows of a VALUES list, (?, ?), (?, ?),
// and returns the arguments bound in that order, a table's cell by cell
// and a repeated placeholder's argument as often as it appears. The text
// depends on the tables' sizes, so it is not kept as rewrite's is; a
// table is padded to tableRows rows with rows of NULLs, which Rows leaves
// out, and the statement cache keeps one text per size, up to
// maxCachedRows rows.
func expand(query string, args []any) (string, []any, error) {
	var out []any
	query, err := sqlstore.Placeholders(limited(query), func(b *strings.Builder, n int, _ string) error {
		if n < 1 || n > len(args) {
			return fmt.Errorf("sqlite: placeholder $%d of %d arguments", n, len(args))
		}
		t, ok := args[n-1].(sqlstore.Table)
		if !ok {
			b.WriteByte('?')
			out = append(out, args[n-1])
			return nil
		}
		if len(t) == 0 {
			// VALUES has at least one row: the callers skip the
			// statement when they have nothing to write.
			return fmt.Errorf("sqlite: table $%d has no rows", n)
		}
		width := len(t[0])
		for r := range tableRows(len(t)) {
			if r > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('(')
			for k := range width {
				if k > 0 {
					b.WriteString(", ")
				}
				b.WriteByte('?')
				if r < len(t) {
					out = append(out, t[r][k])
				} else {
					out = append(out, nil)
				}
			}
			b.WriteByte(')')
		}
		return nil
	})
	if err != nil {
		return "", nil, err
	}
	if len(out) > maxVariables {
		return "", nil, fmt.Errorf("sqlite: %d parameters in one statement, at most %d", len(out), maxVariables)
	}
	return query, bind(out), nil
}

// inOrder reports whether query's placeholders are $1, $2, ... $nargs,
// each once, in the order they appear, so that anonymous ? placeholders
// bind the same arguments. Then the rewrite writes those, because SQLite
// keeps numbered ones (?N) in a list that the driver searches once per
// argument it binds (sqlite3_bind_parameter_name): quadratic in the
// arguments, 16% of a batch ingest's CPU at 256 of them (docs/design.md).
func inOrder(query string, nargs int) bool {
	next := 1
	_, err := sqlstore.Placeholders(query, func(_ *strings.Builder, n int, _ string) error {
		if n != next {
			return errOutOfOrder
		}
		next++
		return nil
	})
	return err == nil && next == nargs+1
}

var errOutOfOrder = errors.New("placeholders out of order")

// numbered turns each $N of query into ?N, or into ? when keep is false.
func numbered(query string, keep bool) string {
	out, _ := sqlstore.Placeholders(query, func(b *strings.Builder, n int, _ string) error {
		b.WriteByte('?')
		if keep {
			b.WriteString(strconv.Itoa(n))
		}
		return nil
	})
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
