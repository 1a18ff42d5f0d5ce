package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlstore"
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

	// Store is every method written once over the driver; this package
	// adds the connections, migrations, Listen and the claim.
	*sqlstore.Store
	db sqlstore.Driver

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
	return newStore(pool, opts...), nil
}

// newStore is the Store over pool. It does no I/O.
func newStore(pool *pgxpool.Pool, opts ...store.Option) *Store {
	lifetime, stop := context.WithCancel(context.Background())
	s := &Store{pool: pool, lifetime: lifetime, stop: stop}
	s.db = driver{s}
	s.Store = sqlstore.New(s.db, querier{pool}, querier{pool}, store.NewOptions(opts...))
	return s
}

// Migrate applies the embedded migrations with goose (MigrateUp).
func (s *Store) Migrate(ctx context.Context) error {
	_, err := s.MigrateUp(ctx)
	return err
}

// MigrateUp applies the embedded migrations with goose and says which it
// applied. Nodes starting at once take turns on an advisory lock, so each
// migration runs exactly once.
func (s *Store) MigrateUp(ctx context.Context) (*store.MigrateResult, error) {
	// The lock is held on a connection of its own for the whole of Up:
	// goose's session locker covers only part of it (Up first checks for
	// pending migrations unlocked, so two nodes race to create the version
	// table), its Postgres locker polls every 5 seconds, and its key is
	// database-wide where ours is per schema, so installs (or parallel
	// tests) in other schemas do not wait for each other.
	lockConn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, fmt.Errorf("postgres: migrate: %w", err)
	}
	// Closing the session releases the lock, whatever happens below.
	defer closeConn(lockConn)
	if _, err := lockConn.Exec(ctx, `SELECT pg_advisory_lock($1, hashtext(coalesce(current_schema(), '')))`, lockMigrate); err != nil {
		return nil, fmt.Errorf("postgres: migrate: take the migration lock: %w", err)
	}

	db := stdlib.OpenDBFromPool(s.pool)
	defer db.Close()
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("postgres: migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return nil, fmt.Errorf("postgres: migrations: %w", err)
	}
	applied, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: migrate: %w", err)
	}
	res := &store.MigrateResult{}
	for _, r := range applied {
		res.Applied = append(res.Applied, store.Migration{Version: r.Source.Version, Name: path.Base(r.Source.Path), Duration: r.Duration})
	}
	if res.Version, err = p.GetDBVersion(ctx); err != nil {
		return nil, fmt.Errorf("postgres: migrate: read the schema version: %w", err)
	}
	return res, nil
}

// WritersHint is how many ingest batches of one node commit at once
// (store.Writers): one. Two overlapped one batch's commit wait with the
// next batch's statements, but each batch that hands deliveries off holds
// the claims' lock from its count of the leases to its commit, so two
// mostly took turns at it, with half the events each: one writer's
// larger batches delivered more at fan-out 1 and 10 and answered sooner
// (docs/design.md, session 15). Several nodes still commit at once.
func (*Store) WritersHint() int { return 1 }

// ClaimGapHint is the least time between a claim that came back short and
// the next (store.ClaimGap): claims and ingest's hand-offs take turns on
// the claim lock, and claims one after another for the few retries that
// come due at a time held it most of the time, so new events waited for
// it. With 10 ms, the healthy endpoints' p99 beside failing ones went from
// 11 to 3.4 times its value alone (docs/design.md).
func (*Store) ClaimGapHint() time.Duration { return 10 * time.Millisecond }

// ClaimProbeHint is true (store.ClaimProbe): a claim that finds nothing
// still holds the claims' lock, which ingest's hand-offs wait for, so
// after one the next looks for room first, outside it (docs/design.md).
func (*Store) ClaimProbeHint() bool { return true }

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
