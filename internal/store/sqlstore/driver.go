package sqlstore

import (
	"context"
	"errors"
	"strconv"
	"strings"
)

// Querier runs SQL on a pool, a connection or a transaction of a driver.
// Queries are written with PostgreSQL's $N placeholders, time.Time and
// *time.Time arguments and scan targets, and []string arguments for lists;
// a driver whose database spells these differently translates them (SQLite:
// ?N, unix microseconds, JSON arrays).
type Querier interface {
	// Exec runs a statement and returns how many rows it changed.
	Exec(ctx context.Context, sql string, args ...any) (int64, error)
	// Query runs a query; the caller closes the rows.
	Query(ctx context.Context, sql string, args ...any) (Rows, error)
	// QueryRow runs a query of at most one row; its Scan returns ErrNoRows
	// when there is none.
	QueryRow(ctx context.Context, sql string, args ...any) Row
}

// Row is one result row.
type Row interface{ Scan(dest ...any) error }

// Rows is a result set.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// ErrNoRows is what a driver's Row.Scan returns when the query found
// nothing, whatever its own library calls it.
var ErrNoRows = errors.New("sqlstore: no rows")

// Kind is the class of a database error that the store answers differently.
type Kind int

// Error kinds a Driver tells apart.
const (
	KindOther      Kind = iota
	KindUnique          // a unique or primary key constraint refused the row
	KindForeignKey      // a foreign key constraint refused the row
	// KindInvalid is a value the database refused as invalid input, which
	// only the caller can mend: PostgreSQL's SQLSTATE class 22 (data
	// exception: a NUL in text, a time or number out of range, a malformed
	// literal), SQLite's SQLITE_TOOBIG and SQLITE_MISMATCH.
	KindInvalid
	KindUnavailable // the database could not be reached or stayed locked
)

// Lock is a row lock a query may take on databases that have them.
type Lock int

// Row locks, as PostgreSQL's FOR ... clauses.
const (
	LockUpdate   Lock = iota // FOR UPDATE
	LockShare                // FOR SHARE
	LockKeyShare             // FOR KEY SHARE
	// LockNoKeyUpdate is FOR NO KEY UPDATE: it serializes its takers on a
	// row without blocking the KEY SHARE locks that foreign keys and
	// ingest take on it.
	LockNoKeyUpdate
	// LockUpdateSkipLocked is FOR UPDATE SKIP LOCKED: the rows another
	// transaction has locked are left out instead of waited for.
	LockUpdateSkipLocked
)

// Driver is what a database supplies to the shared store.
type Driver interface {
	// Tx runs fn in a read-write transaction, committing when it returns
	// nil. A lost connection or a lock held past the timeout comes back
	// marked herald.ErrUnavailable whatever fn wrapped it in.
	Tx(ctx context.Context, fn func(tx Querier) error) error
	// Notify, inside a Tx, wakes the workers of every node once that
	// transaction commits (PostgreSQL: pg_notify; SQLite: an in-process
	// signal after the commit).
	Notify(ctx context.Context, tx Querier) error
	// AsyncTx is Tx for a transaction that may commit without waiting for
	// its log to reach disk, where the database allows it (PostgreSQL:
	// synchronous_commit off, set in the round trip that begins it; see
	// docs/design.md); elsewhere it is Tx.
	AsyncTx(ctx context.Context, fn func(tx Querier) error) error
	// Defer, inside a Tx, runs a statement whose only answer is success
	// where that costs least: PostgreSQL sends it with the transaction's
	// next statement or its COMMIT, in that round trip, and its failure
	// then fails that statement or the commit; SQLite runs it now.
	Defer(ctx context.Context, tx Querier, sql string, args ...any) error
	// GenericPlans, inside a Tx, has the database plan each statement the
	// transaction runs from here on once, for any arguments, instead of
	// anew at every run; with on false, for its arguments at every run
	// (PostgreSQL: plan_cache_mode force_generic_plan or
	// force_custom_plan for the rest of the transaction, going out with
	// its next statement; SQLite plans a statement once, as it prepares
	// it, and does nothing). Ingest plans its look-ups once, which
	// PostgreSQL otherwise planned at every batch for longer than it ran
	// them, and its count of leases, whose generic plan is slow beside a
	// backlog, for its arguments (docs/design.md).
	GenericPlans(ctx context.Context, tx Querier, on bool) error
	// LockClaims, inside a Tx, makes the transaction take its turn with
	// the claims (PostgreSQL: the claim's advisory lock), so the leases it
	// counts and takes are exact; where writers are serialized anyway
	// (SQLite) it does nothing.
	LockClaims(ctx context.Context, tx Querier) error
	// Remote reports whether every statement is a round trip to a server
	// (PostgreSQL), so that one fewer to wait for is worth a cheap look-up
	// sent in a round trip made anyway, rather than a call in this process
	// (SQLite), where the look-up would only add its own run.
	Remote() bool
	// Batch, inside a Tx, runs queries in order, each row of each going
	// to its Scan: in one round trip where the database can pipeline
	// (PostgreSQL), one after another where it runs in process (SQLite).
	Batch(ctx context.Context, tx Querier, stmts ...Stmt) error
	// Classify tells what kind of failure err is.
	Classify(err error) Kind
	// LockClause is the clause that takes lock on the rows a SELECT reads,
	// with a leading space, or "" where writers are serialized anyway
	// (SQLite's single writer).
	LockClause(l Lock) string
	// IndexHint is what follows a table's name (and alias) in FROM to make
	// the database read it through the named index, with a leading space,
	// where its planner cannot be trusted to choose that index without
	// statistics of the data (SQLite, which keeps none unless ANALYZE ran,
	// takes a filter's own index over the plain list index only as long
	// as the query has one range on created_at); "" where it can
	// (PostgreSQL, whose autovacuum keeps statistics).
	IndexHint(index string) string
	// InList is a condition that col is one of the strings of the []string
	// argument $n.
	InList(col string, n int) string
	// Rows is a table expression, aliased alias, of the rows of the Table
	// argument $n, its columns named and typed by cols in order. The first
	// column is never NULL in a row of the table: a driver may pad the
	// table with rows of NULLs and leave them out by it (SQLite).
	Rows(n int, alias string, cols ...Col) string
}

// Stmt is one query of a Driver.Batch: Scan is called once per row.
type Stmt struct {
	SQL  string
	Args []any
	Scan func(Row) error
}

// RunBatch runs stmts one after another on q: Driver.Batch where the
// database cannot pipeline.
func RunBatch(ctx context.Context, q Querier, stmts ...Stmt) error {
	for _, st := range stmts {
		rows, err := q.Query(ctx, st.SQL, st.Args...)
		if _, err := Collect(rows, err, func(r Row) (struct{}, error) { return struct{}{}, st.Scan(r) }); err != nil {
			return err
		}
	}
	return nil
}

// ColType is how a column of a Table argument is read back in SQL.
type ColType int

// Column types of a Table.
const (
	ColText  ColType = iota // string
	ColInt                  // int or int64
	ColTime                 // time.Time, or *time.Time where nil is NULL
	ColBytes                // []byte, where nil is NULL
)

// Col names and types one column that Driver.Rows reads.
type Col struct {
	Name string
	Type ColType
}

// Table is one argument holding many rows, each one value per column, so
// a batch is written by a few set-based statements rather than one per
// row. Each driver binds it its own way (PostgreSQL as one array per
// column, SQLite as the rows of a VALUES list) and reads it with Rows.
type Table [][]any

// Placeholders writes sql with each $N placeholder, in the order they
// appear, replaced by what put writes for it (given the text that follows
// it), and the rest as it is: how each driver turns the store's
// placeholders into its own and binds its arguments, one scan of the
// text for both. An error from put stops it.
func Placeholders(sql string, put func(b *strings.Builder, n int, after string) error) (string, error) {
	var b strings.Builder
	b.Grow(len(sql))
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		j := i + 1
		for c == '$' && j < len(sql) && sql[j] >= '0' && sql[j] <= '9' {
			j++
		}
		if j == i+1 {
			b.WriteByte(c)
			continue
		}
		n, err := strconv.Atoi(sql[i+1 : j])
		if err == nil {
			err = put(&b, n, sql[j:])
		}
		if err != nil {
			return "", err
		}
		i = j - 1
	}
	return b.String(), nil
}
