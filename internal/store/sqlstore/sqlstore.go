package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/secretbox"
	"github.com/heraldhq/herald/internal/store"
)

// Store is every method of store.Store that is the same SQL on every
// database. A driver's Store embeds it and adds Migrate, Ping, Close, Listen
// and DeliveryClaimDue.
type Store struct {
	db    Driver
	read  Querier
	write Querier
	now   func() time.Time
	// healthPruned is the hour (unix seconds) this node last swept old
	// hourly attempt counts in.
	healthPruned atomic.Int64
	// box seals endpoints' secrets on their way in and opens them on
	// their way out (sealSecrets, openSecrets): nothing above the store
	// sees them sealed.
	box *secretbox.Keyring
}

// New returns the shared store over db: read runs plain reads (SQLite: a
// reader pool beside the writer), write single-statement writes outside a
// transaction; o.Clock is the time for every moment a caller leaves zero,
// and o.Secrets seals endpoints' secrets. It does no I/O.
func New(db Driver, read, write Querier, o store.Options) *Store {
	return &Store{db: db, read: read, write: write, now: clock.Or(o.Clock).Now, box: o.Secrets}
}

// Now is the store's clock in stored precision.
func (s *Store) Now() time.Time { return store.Timestamp(s.now()) }

// orNow is t, or the store's clock when t is zero, in stored precision.
func (s *Store) orNow(t time.Time) time.Time {
	if t.IsZero() {
		return s.Now()
	}
	return store.Timestamp(t)
}

// Err wraps an unexpected database error with what was being done: marked
// herald.ErrUnavailable when the database could not be reached (the request
// may succeed if retried), and herald.ErrInvalid when the database refused
// a value as invalid input (KindInvalid: PostgreSQL refuses a NUL, which
// JSON can spell as \u0000, or a timestamp out of its range): the caller's
// input, not a server error. Errors that already carry a store kind pass
// through.
func (s *Store) Err(err error, what string, args ...any) error {
	if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) ||
		errors.Is(err, store.ErrLeaseLost) || errors.Is(err, herald.ErrInvalid) {
		return err
	}
	what = fmt.Sprintf(what, args...)
	switch s.db.Classify(err) {
	case KindInvalid:
		// The client's input, not the server, is at fault: a 422, never a
		// 500. The client reads the herald.Error's message; the database's
		// own words are kept as text for the log.
		return fmt.Errorf("%s: %w (%v)", what, errDatabaseRefusedValue, err)
	case KindUnavailable:
		if !errors.Is(err, herald.ErrUnavailable) {
			return fmt.Errorf("%s: %w: %w", what, herald.ErrUnavailable, err)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// errDatabaseRefusedValue is what a client is told of a value the
// database refused as invalid input (KindInvalid). The API's checks should
// have refused it first, naming the field; this is the net beneath them.
var errDatabaseRefusedValue = herald.Errorf(herald.ErrInvalid,
	"a value was refused by the database as invalid: a character it cannot store, or a time or number out of its range")

// is reports whether err is of kind k.
func (s *Store) is(err error, k Kind) bool { return err != nil && s.db.Classify(err) == k }

// notFound is ErrNotFound naming what was missing when err is ErrNoRows,
// and err otherwise.
func notFound(err error, what string, args ...any) error {
	if errors.Is(err, ErrNoRows) {
		return fmt.Errorf(what+": %w", append(args, store.ErrNotFound)...)
	}
	return err
}

// Collect scans every row of a query with scan and closes the rows; err is
// the query's.
func Collect[T any](rows Rows, err error, scan func(Row) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// returning is a column list for a RETURNING clause, which in SQLite may
// not qualify columns with the table's alias: "ep.id, ep.url" becomes
// "id, url".
func returning(cols string) string {
	return qualifier.ReplaceAllString(cols, "")
}

var qualifier = regexp.MustCompile(`\b[a-z]+\.`)

// NonNil is list, or an empty list for nil: an empty array where the
// query needs one (PostgreSQL binds a nil slice as NULL, and id = ANY(NULL)
// is NULL, not false).
func NonNil(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}

// nullString is NULL for "".
func nullString(v string) *string {
	if v == "" {
		return nil
	}
	return &v
}

// tsPtr is store.Timestamp of an optional time.
func tsPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := store.Timestamp(*t)
	return &v
}

// cleanText makes free text from outside (an error message that may quote a
// response) storable as text on every database: valid UTF-8 without NUL.
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

// getRow reads the one row of a query on q; a missing row is ErrNotFound
// naming what ("tenant \"acme\""), any other failure "get <what>: ...".
func getRow[T any](ctx context.Context, s *Store, q Querier, scan func(Row) (T, error), what string, query string, args ...any) (T, error) {
	v, err := scan(q.QueryRow(ctx, query, args...))
	if err != nil {
		var zero T
		return zero, s.Err(notFound(err, "%s", what), "get %s", what)
	}
	return v, nil
}

// listRows reads every row of a query on the readers; a failure is
// "list <what>: ...".
func listRows[T any](ctx context.Context, s *Store, scan func(Row) (T, error), what string, query string, args ...any) ([]T, error) {
	rows, err := s.read.Query(ctx, query, args...)
	out, err := Collect(rows, err, scan)
	if err != nil {
		return nil, s.Err(err, "list %s", what)
	}
	return out, nil
}

// pageRows reads one page (see page) of a query whose WHERE clause is
// open, on the readers: the rows that fit on the page (store.PageFill) and
// the first that does not, where it stops reading, so that a page of large
// rows is never read whole. A failure is "list <what>: ...".
func pageRows[T store.Sized](ctx context.Context, s *Store, scan func(Row) (T, error), what string, p *store.ListParams, key string, query string, args ...any) ([]T, error) {
	query, args, err := page(query, args, key, p)
	if err != nil {
		return nil, err
	}
	rows, err := s.read.Query(ctx, query, args...)
	out, err := collectPage(rows, err, scan, store.NewPageFill(p))
	if err != nil {
		return nil, s.Err(err, "list %s", what)
	}
	return out, nil
}

// collectPage is Collect up to and including the first row that does not
// fit f.
func collectPage[T store.Sized](rows Rows, err error, scan func(Row) (T, error), f *store.PageFill) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		if !f.Fits(v.Size()) {
			break
		}
	}
	return out, rows.Err()
}
