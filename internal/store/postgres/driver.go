package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

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
	var err error
	for try := 0; ; try++ {
		err = pgx.BeginFunc(ctx, d.s.pool, func(tx pgx.Tx) error { return fn(querier{tx}) })
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
func (driver) Notify(ctx context.Context, tx sqlstore.Querier) error {
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, coalesce(current_schema(), ''))`, notifyChannel); err != nil {
		return fmt.Errorf("notify workers: %w", err)
	}
	return nil
}

// LockClaims takes the claim's advisory lock for the transaction.
func (driver) LockClaims(ctx context.Context, tx sqlstore.Querier) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), '')))`, lockClaim)
	return err
}

// AsyncCommit sets synchronous_commit off for this transaction only.
func (driver) AsyncCommit(ctx context.Context, tx sqlstore.Querier) error {
	_, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = off`)
	return err
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

// KeyFilter is the list: the planner finds the rows by key with it.
func (d driver) KeyFilter(col string, n int) string { return d.InList(col, n) }

// Rows reads the Table argument, bound as JSON text by the querier: times
// as RFC 3339 text, bytes as hex.
func (driver) Rows(n int, alias string, cols ...sqlstore.Col) string {
	var b strings.Builder
	b.WriteString("(SELECT ")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		v := fmt.Sprintf("(r ->> %d)", i)
		switch c.Type {
		case sqlstore.ColInt:
			v += "::bigint"
		case sqlstore.ColTime:
			v += "::timestamptz"
		case sqlstore.ColBytes:
			v = "decode(" + v + ", 'hex')"
		}
		fmt.Fprintf(&b, "%s AS %s", v, c.Name)
	}
	fmt.Fprintf(&b, " FROM jsonb_array_elements($%d::jsonb) AS r) AS %s", n, alias)
	return b.String()
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
// scans times, NULLs and string lists natively; only a sqlstore.Table is
// bound as its JSON.
type querier struct{ c conn }

func (q querier) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := q.c.Exec(ctx, sql, bind(args)...)
	return tag.RowsAffected(), err
}

func (q querier) Query(ctx context.Context, sql string, args ...any) (sqlstore.Rows, error) {
	rows, err := q.c.Query(ctx, sql, bind(args)...)
	if err != nil {
		return nil, err
	}
	return rows, nil
}

func (q querier) QueryRow(ctx context.Context, sql string, args ...any) sqlstore.Row {
	return pgRow{q.c.QueryRow(ctx, sql, bind(args)...)}
}

// bind encodes Table arguments as JSON text, leaving the rest to pgx; args
// without a Table are passed on as they are.
func bind(args []any) []any {
	var out []any
	for i, v := range args {
		if t, ok := v.(sqlstore.Table); ok {
			if out == nil {
				out = append([]any(nil), args...)
			}
			out[i] = sqlstore.TableJSON(t, func(t time.Time) any { return t.UTC().Format(time.RFC3339Nano) })
		}
	}
	if out == nil {
		return args
	}
	return out
}

type pgRow struct{ r pgx.Row }

func (r pgRow) Scan(dest ...any) error {
	err := r.r.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return sqlstore.ErrNoRows
	}
	return err
}
