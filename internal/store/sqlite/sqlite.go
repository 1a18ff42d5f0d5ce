package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a store.Store in one SQLite file.
type Store struct {
	// write has a single connection: SQLite allows one writer at a time,
	// and writers queueing in Go never see SQLITE_BUSY, where several
	// connections would spin on the file lock. Transactions on it begin
	// IMMEDIATE, taking the write lock up front, so a read-then-write
	// transaction cannot fail halfway on a lock upgrade.
	write *sql.DB
	// read serves plain reads; with WAL they run beside the writer.
	read *sql.DB
	now  func() time.Time

	mu        sync.Mutex
	listeners map[chan struct{}]struct{}
}

var _ store.Store = (*Store)(nil)

// PathFromURL turns a database URL into a file path: "sqlite:herald.db" and
// "sqlite://herald.db" are relative to the working directory,
// "sqlite:///var/lib/herald.db" and "sqlite:/var/lib/herald.db" absolute.
// The rest is taken literally (no %-decoding, no query).
func PathFromURL(u string) (string, error) {
	rest, ok := strings.CutPrefix(u, "sqlite:")
	if !ok {
		return "", fmt.Errorf("sqlite: database url %q does not start with sqlite:", u)
	}
	if r, ok := strings.CutPrefix(rest, "//"); ok {
		rest = r
	}
	if rest == "" || strings.ContainsRune(rest, 0) {
		return "", fmt.Errorf("sqlite: database url %q names no file", u)
	}
	return rest, nil
}

// Open returns a Store for the SQLite file at path, created on first use.
// It does no I/O: the first query (normally Migrate) opens the file.
func Open(path string, opts ...store.Option) (*Store, error) {
	if path == "" || strings.ContainsRune(path, 0) {
		return nil, fmt.Errorf("sqlite: bad database path %q", path)
	}
	if path == ":memory:" {
		// Every connection would get a database of its own, and a Store has
		// several.
		return nil, fmt.Errorf("sqlite: in-memory databases are not supported, give a file path")
	}
	// A file: URI, so a path containing '?' cannot be misread as options.
	name := "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	// busy_timeout covers the locks other processes (herald migrate, a
	// backup) or a second Store on the same file may hold.
	pragmas := "&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	write, err := sql.Open("sqlite", name+"?_txlock=immediate"+pragmas)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	read, err := sql.Open("sqlite", name+"?_txlock=deferred"+pragmas+"&_pragma=query_only(1)")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	return &Store{write: write, read: read, now: store.NewOptions(opts...).Clock.Now, listeners: map[chan struct{}]struct{}{}}, nil
}

// Migrate applies the embedded migrations with goose, on the writer
// connection so that two Migrate calls of one Store take turns.
func (s *Store) Migrate(ctx context.Context) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("sqlite: migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, s.write, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("sqlite: migrations: %w", err)
	}
	// SQLite has no advisory lock to take turns on, so two processes
	// migrating one file at once can both decide that a migration is due.
	// Each migration runs in its own IMMEDIATE transaction, so the loser
	// fails cleanly ("table already exists") and rolls back; trying again,
	// it finds the migration recorded and has nothing left to do.
	for attempt := 1; ; attempt++ {
		_, err = p.Up(ctx)
		if err == nil {
			return nil
		}
		if attempt == 5 {
			return fmt.Errorf("sqlite: migrate: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sqlite: migrate: %w", errors.Join(err, ctx.Err()))
		case <-time.After(time.Duration(attempt) * 50 * time.Millisecond):
		}
	}
}

// Ping checks that the file can be read.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.read.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	var one int
	if err := s.read.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Close closes the Listen channels and both pools.
func (s *Store) Close() error {
	s.closeListeners()
	return errors.Join(s.read.Close(), s.write.Close())
}

// tx runs fn in an IMMEDIATE transaction on the writer, committing when it
// returns nil.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return markUnavailable(err)
	}
	if err := fn(tx); err != nil {
		return markUnavailable(errors.Join(err, ignoreDone(tx.Rollback())))
	}
	return markUnavailable(tx.Commit())
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

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// sqliteCode is the extended result code of a SQLite error, 0 otherwise.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

func isUnique(err error) bool {
	c := sqliteCode(err)
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

func isForeignKey(err error) bool {
	return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// dbErr wraps an unexpected database error with what was being done.
func dbErr(err error, what string, args ...any) error {
	if unavailable(err) && !errors.Is(err, herald.ErrUnavailable) {
		return fmt.Errorf(what+": %w: %w", append(args, herald.ErrUnavailable, err)...)
	}
	return fmt.Errorf(what+": %w", append(args, err)...)
}

// unavailable reports whether err is SQLITE_BUSY or SQLITE_LOCKED past the
// busy timeout: another process holds the database, and the request may
// succeed if retried.
func unavailable(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && (se.Code()&0xff == sqlite3.SQLITE_BUSY || se.Code()&0xff == sqlite3.SQLITE_LOCKED)
}

// Times are stored as unix microseconds; every time returned is UTC.
func us(t time.Time) int64 { return t.UnixMicro() }

func fromUS(v int64) time.Time { return time.UnixMicro(v).UTC() }

func usPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

func fromNullUS(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromUS(v.Int64)
	return &t
}

// orNow is t, or the store's clock when t is zero, in stored precision.
func (s *Store) orNow(t time.Time) time.Time {
	if t.IsZero() {
		return store.Timestamp(s.now())
	}
	return store.Timestamp(t)
}

// returning is a column list for a RETURNING clause, which in SQLite may
// not qualify columns with the table's alias: "ep.id, ep.url" becomes
// "id, url".
func returning(cols string) string {
	return qualifier.ReplaceAllString(cols, "")
}

var qualifier = regexp.MustCompile(`\b[a-z]+\.`)

// nullString is NULL for "".
func nullString(v string) any {
	if v == "" {
		return nil
	}
	return v
}

// nullBytes is NULL for nil (modernc binds a nil []byte as NULL too, but
// saying so keeps the intent visible).
func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return b
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
		args = append(args, us(at), k)
		q += fmt.Sprintf(" AND (created_at, %s) < (?%d, ?%d)", key, len(args)-1, len(args))
	}
	// One row more than the page: it tells the caller another page exists.
	args = append(args, p.PageLimit()+1)
	q += fmt.Sprintf(" ORDER BY created_at DESC, %s DESC LIMIT ?%d", key, len(args))
	return q, args, nil
}
