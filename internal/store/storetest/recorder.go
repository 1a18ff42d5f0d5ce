package storetest

import (
	"context"
	"strings"
	"sync"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlstore"
)

// Record is the shared store over real's driver d and its read and write
// queriers, recording every statement it runs (inside transactions too) in
// rec, for the plan tests of both drivers.
func Record(real store.Store, d sqlstore.Driver, read, write sqlstore.Querier, rec *Recorder) *RecordedStore {
	return &RecordedStore{Store: sqlstore.New(recDriver{Driver: d, rec: rec},
		recQuerier{Querier: read, rec: rec}, recQuerier{Querier: write, rec: rec}, store.Options{}), Real: real}
}

// Recorder keeps the SQL a store runs, with its arguments.
type Recorder struct {
	mu      sync.Mutex
	queries []RecordedQuery
}

// RecordedQuery is one statement a store ran.
type RecordedQuery struct {
	SQL  string
	Args []any
}

func (r *Recorder) add(sql string, args []any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queries = append(r.queries, RecordedQuery{sql, args})
}

// Queries is every statement the store ran, in order.
func (r *Recorder) Queries() []RecordedQuery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]RecordedQuery(nil), r.queries...)
}

// LastSelect is the last SELECT the store ran.
func (r *Recorder) LastSelect() (RecordedQuery, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.queries) - 1; i >= 0; i-- {
		if strings.HasPrefix(strings.TrimSpace(r.queries[i].SQL), "SELECT") {
			return r.queries[i], true
		}
	}
	return RecordedQuery{}, false
}

// recQuerier records what runs through it.
type recQuerier struct {
	sqlstore.Querier
	rec *Recorder
}

func (q recQuerier) Query(ctx context.Context, sql string, args ...any) (sqlstore.Rows, error) {
	q.rec.add(sql, args)
	return q.Querier.Query(ctx, sql, args...)
}

func (q recQuerier) QueryRow(ctx context.Context, sql string, args ...any) sqlstore.Row {
	q.rec.add(sql, args)
	return q.Querier.QueryRow(ctx, sql, args...)
}

// recDriver records what runs inside its transactions too.
type recDriver struct {
	sqlstore.Driver
	rec *Recorder
}

func (d recDriver) Tx(ctx context.Context, fn func(sqlstore.Querier) error) error {
	return d.Driver.Tx(ctx, func(tx sqlstore.Querier) error { return fn(recQuerier{Querier: tx, rec: d.rec}) })
}

func (d recDriver) Notify(ctx context.Context, tx sqlstore.Querier) error {
	if q, ok := tx.(recQuerier); ok {
		tx = q.Querier
	}
	return d.Driver.Notify(ctx, tx)
}

func (d recDriver) AsyncTx(ctx context.Context, fn func(sqlstore.Querier) error) error {
	return d.Driver.AsyncTx(ctx, func(tx sqlstore.Querier) error { return fn(recQuerier{Querier: tx, rec: d.rec}) })
}

// RecordedStore is the shared store over a recording driver (Record),
// with the driver's own methods from the real store.
type RecordedStore struct {
	*sqlstore.Store
	Real store.Store
}

var _ store.Store = (*RecordedStore)(nil)

func (r *RecordedStore) Migrate(ctx context.Context) error { return r.Real.Migrate(ctx) }
func (r *RecordedStore) MigrateUp(ctx context.Context) (*store.MigrateResult, error) {
	return r.Real.MigrateUp(ctx)
}
func (r *RecordedStore) Ping(ctx context.Context) error { return r.Real.Ping(ctx) }
func (r *RecordedStore) Close() error                   { return nil }

func (r *RecordedStore) Listen(ctx context.Context) (<-chan struct{}, error) {
	return r.Real.Listen(ctx)
}

func (r *RecordedStore) DeliveryClaimDue(ctx context.Context, p *store.DeliveryClaimParams) ([]*store.Claimed, error) {
	return r.Real.DeliveryClaimDue(ctx, p)
}
