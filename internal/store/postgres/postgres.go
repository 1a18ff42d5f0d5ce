package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Advisory lock classes (the first key of the two-key form). The second key
// is a hash of the current schema, so several Herald installs (or test
// schemas) in one database do not wait for each other.
const (
	lockMigrate int32 = 0x48524c01 // "HRL" 1
	lockClaim   int32 = 0x48524c02 // "HRL" 2
)

// notifyChannel is the LISTEN/NOTIFY channel that says new due work was
// committed. Channels are per database, not per schema, so the payload names
// the schema and listeners ignore other schemas' notifications (several
// installs, or parallel tests, in one database).
const notifyChannel = "herald_deliveries"

// Store is a store.Store on PostgreSQL.
type Store struct {
	pool *pgxpool.Pool
	now  func() time.Time

	// lifetime ends at Close and stops the Listen goroutines, which hold
	// connections of their own.
	lifetime context.Context
	stop     context.CancelFunc
	wg       sync.WaitGroup
}

var _ store.Store = (*Store)(nil)

// Open returns a Store for a postgres:// URL. It does no I/O: the pool
// connects on first use, and Migrate is normally that first use. Runtime
// parameters in the URL (search_path=myschema) are sent on every connection.
func Open(url string, opts ...store.Option) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse database url: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: create pool: %w", err)
	}
	lifetime, stop := context.WithCancel(context.Background())
	return &Store{pool: pool, now: store.NewOptions(opts...).Clock.Now, lifetime: lifetime, stop: stop}, nil
}

// Migrate applies the embedded migrations with goose. Nodes starting at
// once take turns on an advisory lock, so each migration runs exactly once.
func (s *Store) Migrate(ctx context.Context) error {
	// The lock is held on a connection of its own for the whole of Up:
	// goose's session locker covers only part of it (Up first checks for
	// pending migrations unlocked, so two nodes race to create the version
	// table), its Postgres locker polls every 5 seconds, and its key is
	// database-wide where ours is per schema, so installs (or parallel
	// tests) in other schemas do not wait for each other.
	lockConn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	// Closing the session releases the lock, whatever happens below.
	defer closeConn(lockConn)
	if _, err := lockConn.Exec(ctx, `SELECT pg_advisory_lock($1, hashtext(coalesce(current_schema(), '')))`, lockMigrate); err != nil {
		return fmt.Errorf("postgres: migrate: take the migration lock: %w", err)
	}

	db := stdlib.OpenDBFromPool(s.pool)
	defer db.Close()
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close stops the listeners and closes the pool.
func (s *Store) Close() error {
	s.stop()
	s.wg.Wait()
	s.pool.Close()
	return nil
}

// closeConn closes a connection of our own, without waiting long on a
// network that may be gone.
func closeConn(c *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.Close(ctx)
}

// tx runs fn in a transaction (READ COMMITTED), committing when it returns
// nil. A failure to reach the database, at begin, inside fn or at commit,
// comes back marked herald.ErrUnavailable whatever fn wrapped it in.
func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	err := pgx.BeginFunc(ctx, s.pool, fn)
	if err != nil && unavailable(err) && !errors.Is(err, herald.ErrUnavailable) {
		return fmt.Errorf("%w: %w", herald.ErrUnavailable, err)
	}
	return err
}

// notify wakes the workers of every node once the transaction commits.
// PostgreSQL folds identical notifications of one transaction into one.
func notify(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, coalesce(current_schema(), ''))`, notifyChannel); err != nil {
		return fmt.Errorf("notify workers: %w", err)
	}
	return nil
}

// querier is what pool, conn and tx have in common.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// collect scans every row of a query with scan; err is the query's.
func collect[T any](rows pgx.Rows, err error, scan func(pgx.Row) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
}

// SQLSTATE codes the driver turns into store kinds.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
	codeBadCharacter        = "22021" // e.g. a NUL in text
	codeUntranslatable      = "22P05"
)

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// dbErr wraps an unexpected database error with what was being done. Text
// PostgreSQL cannot store (a NUL character, which JSON can spell as \u0000)
// is the caller's invalid input, not a server error.
func dbErr(err error, what string, args ...any) error {
	what = fmt.Sprintf(what, args...)
	if c := pgCode(err); c == codeBadCharacter || c == codeUntranslatable {
		return fmt.Errorf("%s: text contains a character that cannot be stored: %w", what, herald.ErrInvalid)
	}
	if unavailable(err) {
		return fmt.Errorf("%s: %w: %w", what, herald.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", what, err)
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

// tsPtr is store.Timestamp of an optional time.
func tsPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := store.Timestamp(*t)
	return &v
}

// orNow is t, or the store's clock when t is zero, in stored precision.
func (s *Store) orNow(t time.Time) time.Time {
	if t.IsZero() {
		return store.Timestamp(s.now())
	}
	return store.Timestamp(t)
}

// nullString is NULL for "".
func nullString(v string) *string {
	if v == "" {
		return nil
	}
	return &v
}

// cleanText makes free text from outside (an error message that may quote a
// response) storable as text: valid UTF-8 without NUL.
func cleanText(v string) string {
	if utf8.ValidString(v) && !strings.ContainsRune(v, 0) {
		return v
	}
	return strings.ReplaceAll(strings.ToValidUTF8(v, "\uFFFD"), "\x00", "\uFFFD")
}

// page adds the cursor condition and the order and limit of a list to a
// query whose WHERE clause is already open. key is the column after
// created_at in the order (id or name).
func page(q string, args []any, key string, p *store.ListParams) (string, []any, error) {
	if p != nil && p.Cursor != "" {
		at, k, err := store.DecodeCursor(p.Cursor)
		if err != nil {
			return "", nil, err
		}
		args = append(args, at, k)
		q += fmt.Sprintf(" AND (created_at, %s) < ($%d, $%d)", key, len(args)-1, len(args))
	}
	// One row more than the page: it tells the caller another page exists.
	args = append(args, p.PageLimit()+1)
	q += fmt.Sprintf(" ORDER BY created_at DESC, %s DESC LIMIT $%d", key, len(args))
	return q, args, nil
}
