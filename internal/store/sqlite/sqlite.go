package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlstore"
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
	// The prepared statements of each pool.
	readStmts, writeStmts *stmtCache
	// ckpt checkpoints the WAL beside the writer.
	ckpt *checkpointer

	// Store is every method written once over the driver; this package
	// adds the connections, migrations, Listen and the claim.
	*sqlstore.Store
	db sqlstore.Driver

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
	pragmas := "&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_pragma=temp_store(MEMORY)"
	write, err := sql.Open("sqlite", name+"?_txlock=immediate"+pragmas+"&_pragma=wal_autocheckpoint("+strconv.Itoa(walBackstop)+")")
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
	ckpt, err := sql.Open("sqlite", name+"?"+pragmas[1:])
	if err != nil {
		write.Close()
		read.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	s := &Store{write: write, read: read, ckpt: newCheckpointer(ckpt), listeners: map[chan struct{}]struct{}{}}
	s.db = driver{s}
	s.readStmts, s.writeStmts = newStmtCache(read), newStmtCache(write)
	s.Store = sqlstore.New(s.db, querier{c: read, stmts: s.readStmts}, querier{c: write, stmts: s.writeStmts}, store.NewOptions(opts...))
	return s, nil
}

// Migrate applies the embedded migrations with goose (MigrateUp).
func (s *Store) Migrate(ctx context.Context) error {
	_, err := s.MigrateUp(ctx)
	return err
}

// MigrateUp applies the embedded migrations with goose, on the writer
// connection so that two Migrate calls of one Store take turns, and says
// which it applied.
func (s *Store) MigrateUp(ctx context.Context) (*store.MigrateResult, error) {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("sqlite: migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, s.write, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return nil, fmt.Errorf("sqlite: migrations: %w", err)
	}
	// SQLite has no advisory lock to take turns on, so two processes
	// migrating one file at once can both decide that a migration is due.
	// Each migration runs in its own IMMEDIATE transaction, so the loser
	// fails cleanly ("table already exists") and rolls back; trying again,
	// it finds the migration recorded and has nothing left to do.
	res := &store.MigrateResult{}
	for attempt := 1; ; attempt++ {
		applied, err := p.Up(ctx)
		var partial *goose.PartialError
		if errors.As(err, &partial) {
			applied = partial.Applied
		}
		for _, r := range applied {
			res.Applied = append(res.Applied, store.Migration{Version: r.Source.Version, Name: path.Base(r.Source.Path), Duration: r.Duration})
		}
		if err == nil {
			break
		}
		if attempt == 5 {
			return nil, fmt.Errorf("sqlite: migrate: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("sqlite: migrate: %w", errors.Join(err, ctx.Err()))
		case <-time.After(time.Duration(attempt) * 50 * time.Millisecond):
		}
	}
	if res.Version, err = p.GetDBVersion(ctx); err != nil {
		return nil, fmt.Errorf("sqlite: migrate: read the schema version: %w", err)
	}
	return res, nil
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
	return errors.Join(s.ckpt.close(), s.readStmts.close(), s.writeStmts.close(), s.read.Close(), s.write.Close())
}
