package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store/sqlstore"
)

// driver is what PostgreSQL supplies to the shared store: pgx's own pool
// (not database/sql: see docs/design.md), its SQLSTATE codes, row locks and
// LISTEN/NOTIFY.
type driver struct{ s *Store }

var _ sqlstore.Driver = driver{}

// Tx runs fn in a transaction (READ COMMITTED), committing when it returns
// nil. A failure to reach the database, at begin, inside fn or at commit,
// comes back marked herald.ErrUnavailable whatever fn wrapped it in.
func (d driver) Tx(ctx context.Context, fn func(sqlstore.Querier) error) error {
	return d.tx(ctx, beginTx, fn)
}

// The statements that begin a transaction: they go out with its first
// statement (pipeTx).
var (
	beginTx      = []string{"BEGIN"}
	beginAsyncTx = []string{"BEGIN", "SET LOCAL synchronous_commit = off"}
)

func (d driver) tx(ctx context.Context, begin []string, fn func(sqlstore.Querier) error) error {
	var err error
	for try := 0; ; try++ {
		err = d.runTx(ctx, begin, fn)
		// A deadlock or a serialization failure aborts one of the
		// transactions in it, which was right and may simply run again: a
		// tenant's delete (endpoints, then their deliveries) and a batch of
		// attempt records (deliveries, then their endpoints' health) take
		// their locks in opposite orders, and the delete answered 500.
		if c := pgCode(err); (c != codeDeadlock && c != codeSerialization) || try == maxTxRetries || ctx.Err() != nil {
			break
		}
		select {
		case <-time.After(time.Duration(1+rand.IntN(10*(try+1))) * time.Millisecond):
		case <-ctx.Done():
		}
	}
	if err != nil && unavailable(err) && !errors.Is(err, herald.ErrUnavailable) {
		return fmt.Errorf("%w: %w", herald.ErrUnavailable, err)
	}
	return err
}

// Notify wakes the workers of every node once the transaction commits.
// PostgreSQL folds identical notifications of one transaction into one.
func (d driver) Notify(ctx context.Context, tx sqlstore.Querier) error {
	if err := d.Defer(ctx, tx, notifySQL, notifyChannel); err != nil {
		return fmt.Errorf("notify workers: %w", err)
	}
	return nil
}

// LockClaims takes the claim's advisory lock for the transaction: in a
// pipeTx, with its next statement, which runs once the lock is held.
func (d driver) LockClaims(ctx context.Context, tx sqlstore.Querier) error {
	return d.Defer(ctx, tx, lockClaimsSQL, lockClaim)
}

// Remote is true: every statement is a round trip to the server.
func (driver) Remote() bool { return true }

// Defer queues sql to go out with the transaction's next statement or
// its COMMIT; outside a pipeTx it runs sql now.
func (driver) Defer(ctx context.Context, tx sqlstore.Querier, sql string, args ...any) error {
	t, ok := tx.(*pipeTx)
	if !ok {
		_, err := tx.Exec(ctx, sql, args...)
		return err
	}
	sql, args, err := expand(sql, args)
	if err != nil {
		return err
	}
	t.later(sql, args...)
	return nil
}

// GenericPlans sets plan_cache_mode for the rest of the transaction, in
// the round trip of its next statement.
func (d driver) GenericPlans(ctx context.Context, tx sqlstore.Querier, on bool) error {
	if on {
		return d.Defer(ctx, tx, genericPlansSQL)
	}
	return d.Defer(ctx, tx, customPlansSQL)
}

// Batch sends the queries, and what a pipeTx has pending, in one round
// trip.
func (driver) Batch(ctx context.Context, tx sqlstore.Querier, stmts ...sqlstore.Stmt) error {
	if t, ok := tx.(*pipeTx); ok {
		return t.batch(ctx, stmts)
	}
	return sqlstore.RunBatch(ctx, tx, stmts...)
}

// The statements of Notify, LockClaims and GenericPlans.
const (
	genericPlansSQL = `SET LOCAL plan_cache_mode = force_generic_plan`
	customPlansSQL  = `SET LOCAL plan_cache_mode = force_custom_plan`
	notifySQL       = `SELECT pg_notify($1, coalesce(current_schema(), ''))`
	lockClaimsSQL   = `SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), '')))`
)

// AsyncTx is Tx with synchronous_commit off for this transaction only,
// set with its BEGIN, which goes out with its first statement (pipeTx).
func (d driver) AsyncTx(ctx context.Context, fn func(sqlstore.Querier) error) error {
	return d.tx(ctx, beginAsyncTx, fn)
}

// maxTxRetries is how many times Tx runs a transaction again that a
// deadlock or a serialization failure aborted.
const maxTxRetries = 3

// SQLSTATE codes the driver tells apart.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
	codeDeadlock            = "40P01"
	codeSerialization       = "40001"
	// classDataException is SQLSTATE class 22, every refusal of a value
	// as invalid input: a NUL or untranslatable character in text (22021,
	// 22P05), a timestamp out of range (22008), a number out of range
	// (22003), a malformed literal (22P02, 22007).
	classDataException = "22"
)

func (driver) Classify(err error) sqlstore.Kind {
	switch c := pgCode(err); {
	case c == codeUniqueViolation:
		return sqlstore.KindUnique
	case c == codeForeignKeyViolation:
		return sqlstore.KindForeignKey
	case c == codeDeadlock || c == codeSerialization:
		// Still so after Tx ran it again: busy, try later (503), not a
		// fault of the request's.
		return sqlstore.KindUnavailable
	case strings.HasPrefix(c, classDataException):
		return sqlstore.KindInvalid
	case unavailable(err):
		return sqlstore.KindUnavailable
	}
	return sqlstore.KindOther
}

// IndexHint is empty: PostgreSQL plans with the statistics autovacuum
// keeps.
func (driver) IndexHint(string) string { return "" }

func (driver) LockClause(l sqlstore.Lock) string {
	switch l {
	case sqlstore.LockShare:
		return " FOR SHARE"
	case sqlstore.LockKeyShare:
		return " FOR KEY SHARE"
	case sqlstore.LockNoKeyUpdate:
		return " FOR NO KEY UPDATE"
	case sqlstore.LockUpdateSkipLocked:
		return " FOR UPDATE SKIP LOCKED"
	}
	return " FOR UPDATE"
}

func (driver) InList(col string, n int) string { return fmt.Sprintf("%s = ANY($%d)", col, n) }

// Rows reads the Table argument as one array per column, zipped by
// unnest: the querier binds each column as its own typed array (expand),
// which pgx sends in binary. The JSON text it was before cost a batch's
// record a third of its time, in the encoding here and the parsing there:
// every attempt's body went in as hex, which jsonb parsed and ->> and
// decode took apart again (docs/design.md).
func (driver) Rows(n int, alias string, cols ...sqlstore.Col) string {
	var b strings.Builder
	b.WriteString("unnest(")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d::%s[]", n, pgType[c.Type])
	}
	fmt.Fprintf(&b, ") AS %s(", alias)
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.Name)
	}
	b.WriteString(")")
	return b.String()
}

// pgType is the PostgreSQL type of each sqlstore.ColType.
var pgType = map[sqlstore.ColType]string{
	sqlstore.ColText:  "text",
	sqlstore.ColInt:   "bigint",
	sqlstore.ColTime:  "timestamptz",
	sqlstore.ColBytes: "bytea",
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// unavailable reports whether err means the database could not be reached
// or did not answer in time, rather than refusing what was asked: a failed
// connect, a broken connection, the server shutting down or out of
// connections.
func unavailable(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &ce), errors.As(err, &ne), errors.Is(err, context.DeadlineExceeded):
		return true
	}
	switch c := pgCode(err); {
	case strings.HasPrefix(c, "08"), // connection exception
		strings.HasPrefix(c, "57P"), // operator intervention: shutdown, crash recovery
		c == "53300":                // too many connections
		return true
	}
	return false
}

// conn is what pool, conn and tx have in common.
type conn interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// querier runs the shared store's SQL through pgx as it is: pgx binds and
// scans times, NULLs and string lists natively; only a query with a
// sqlstore.Table argument is rewritten first (expand).
type querier struct{ c conn }

func (q querier) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	sql, args, err := expand(sql, args)
	if err != nil {
		return 0, err
	}
	tag, err := q.c.Exec(ctx, sql, args...)
	return tag.RowsAffected(), err
}

func (q querier) Query(ctx context.Context, sql string, args ...any) (sqlstore.Rows, error) {
	sql, args, err := expand(sql, args)
	if err != nil {
		return nil, err
	}
	rows, err := q.c.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return rows, nil
}

func (q querier) QueryRow(ctx context.Context, sql string, args ...any) sqlstore.Row {
	sql, args, err := expand(sql, args)
	if err != nil {
		return errRow{err}
	}
	return pgRow{q.c.QueryRow(ctx, sql, args...)}
}

// errRow is a row whose query could not be bound.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// expand binds each sqlstore.Table argument as one array per column, in
// the order Rows names them: the k-th placeholder of a table, $n::T[],
// becomes a placeholder of its own bound to the table's k-th column as a
// T array. Placeholders are renumbered in the order they appear (a
// repeated one keeps one number); the text does not depend on the
// tables' sizes, so pgx prepares it once, and the renumbering is worked
// out once per text (tablePlan). Queries without a table are passed on as
// they are.
func expand(sql string, args []any) (string, []any, error) {
	tables := false
	for _, a := range args {
		if _, ok := a.(sqlstore.Table); ok {
			tables = true
			break
		}
	}
	if !tables {
		return sql, args, nil
	}
	p, err := planFor(sql, args)
	if err != nil {
		return "", nil, err
	}
	out := make([]any, len(p.slots))
	for i, sl := range p.slots {
		t, table := args[sl.arg].(sqlstore.Table)
		switch {
		case table != sl.table:
			return "", nil, fmt.Errorf("postgres: argument $%d is a table in one call of a query and not in another", sl.arg+1)
		case !table:
			out[i] = args[sl.arg]
		default:
			if out[i], err = column(t, sl.col, sl.typ); err != nil {
				return "", nil, fmt.Errorf("postgres: table $%d: %w", sl.arg+1, err)
			}
		}
	}
	return p.sql, out, nil
}

// tablePlan is a query's text with its tables' columns as placeholders of
// their own, and what each placeholder of it binds.
type tablePlan struct {
	sql   string
	slots []planSlot
}

// planSlot is one placeholder of a tablePlan: argument arg, or, of a
// table, its column col read as typ.
type planSlot struct {
	arg   int
	table bool
	col   int
	typ   sqlstore.ColType
}

// plans keeps each query text's tablePlan: the shared store's SQL is a
// fixed set of strings.
var plans sync.Map // string -> *tablePlan

// planFor is sql's tablePlan for args, worked out on its first call.
func planFor(sql string, args []any) (*tablePlan, error) {
	if p, ok := plans.Load(sql); ok {
		return p.(*tablePlan), nil
	}
	p := &tablePlan{}
	renumbered := map[int]int{} // a plain argument's new number
	columns := map[int]int{}    // a table's columns so far
	text, err := sqlstore.Placeholders(sql, func(b *strings.Builder, n int, after string) error {
		if n < 1 || n > len(args) {
			return fmt.Errorf("postgres: placeholder $%d of %d arguments", n, len(args))
		}
		if _, ok := args[n-1].(sqlstore.Table); !ok {
			if renumbered[n] == 0 {
				p.slots = append(p.slots, planSlot{arg: n - 1})
				renumbered[n] = len(p.slots)
			}
			fmt.Fprintf(b, "$%d", renumbered[n])
			return nil
		}
		name, _, ok := strings.Cut(strings.TrimPrefix(after, "::"), "[]")
		ct, known := pgColType[name]
		if !ok || !known || !strings.HasPrefix(after, "::") {
			return fmt.Errorf("postgres: table $%d is read without an array type", n)
		}
		p.slots = append(p.slots, planSlot{arg: n - 1, table: true, col: columns[n], typ: ct})
		columns[n]++
		fmt.Fprintf(b, "$%d", len(p.slots))
		return nil
	})
	if err != nil {
		return nil, err
	}
	p.sql = text
	plans.Store(sql, p)
	return p, nil
}

// pgColType is pgType backwards.
var pgColType = func() map[string]sqlstore.ColType {
	m := map[string]sqlstore.ColType{}
	for ct, name := range pgType {
		m[name] = ct
	}
	return m
}()

// column is the k-th column of t as an array pgx binds as ct's type, a
// nil cell as NULL.
func column(t sqlstore.Table, k int, ct sqlstore.ColType) (any, error) {
	bad := func(r int, v any) error {
		return fmt.Errorf("row %d, column %d: %T is not a %s", r, k+1, v, pgType[ct])
	}
	switch ct {
	case sqlstore.ColText:
		col := make([]pgtype.Text, len(t))
		for r, row := range t {
			switch v := row[k].(type) {
			case nil:
			case string:
				col[r] = pgtype.Text{String: v, Valid: true}
			default:
				rv := reflect.ValueOf(v)
				if rv.Kind() != reflect.String {
					return nil, bad(r, v)
				}
				col[r] = pgtype.Text{String: rv.String(), Valid: true}
			}
		}
		return col, nil
	case sqlstore.ColInt:
		col := make([]pgtype.Int8, len(t))
		for r, row := range t {
			switch v := row[k].(type) {
			case nil:
			case int:
				col[r] = pgtype.Int8{Int64: int64(v), Valid: true}
			case int64:
				col[r] = pgtype.Int8{Int64: v, Valid: true}
			case int32:
				col[r] = pgtype.Int8{Int64: int64(v), Valid: true}
			default:
				return nil, bad(r, v)
			}
		}
		return col, nil
	case sqlstore.ColTime:
		col := make([]pgtype.Timestamptz, len(t))
		for r, row := range t {
			switch v := row[k].(type) {
			case nil:
			case time.Time:
				col[r] = pgtype.Timestamptz{Time: v, Valid: true}
			case *time.Time:
				if v != nil {
					col[r] = pgtype.Timestamptz{Time: *v, Valid: true}
				}
			default:
				return nil, bad(r, v)
			}
		}
		return col, nil
	case sqlstore.ColBytes:
		col := make([][]byte, len(t))
		for r, row := range t {
			switch v := row[k].(type) {
			case nil:
			case []byte:
				col[r] = v
			default:
				return nil, bad(r, v)
			}
		}
		return col, nil
	}
	return nil, fmt.Errorf("column %d: no array type for column type %d", k+1, ct)
}

type pgRow struct{ r pgx.Row }

func (r pgRow) Scan(dest ...any) error {
	err := r.r.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return sqlstore.ErrNoRows
	}
	return err
}
