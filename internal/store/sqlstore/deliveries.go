package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// DeliveryCols are the columns deliveryRow scans; queries name the table d.
const DeliveryCols = `d.id, d.tenant_id, d.event_id, d.event_type, d.endpoint_id, d.status,
	d.attempts, d.series_attempts, d.next_attempt_at, d.last_status_code, d.last_error,
	d.created_at, d.updated_at`

type deliveryRow struct {
	d store.Delivery
}

func (r *deliveryRow) dest() []any {
	d := &r.d
	return []any{&d.ID, &d.TenantID, &d.EventID, &d.EventType, &d.EndpointID, &d.Status,
		&d.Attempts, &d.SeriesAttempts, &d.NextAttemptAt, &d.LastStatusCode, &d.LastError,
		&d.CreatedAt, &d.UpdatedAt}
}

func (r *deliveryRow) value() *store.Delivery {
	d := r.d
	// A delivering row's next_attempt_at is its lease expiry (see the
	// schema); to callers a delivery in flight has no next attempt.
	if d.Status == store.StatusDelivering {
		d.NextAttemptAt = nil
	}
	d.NextAttemptAt = tsPtr(d.NextAttemptAt)
	d.CreatedAt, d.UpdatedAt = store.Timestamp(d.CreatedAt), store.Timestamp(d.UpdatedAt)
	return &d
}

func scanDelivery(r Row) (*store.Delivery, error) {
	var dr deliveryRow
	if err := r.Scan(dr.dest()...); err != nil {
		return nil, err
	}
	return dr.value(), nil
}

// ClaimedCols are the columns ScanClaimed reads, from the tables d
// (deliveries) and ev (events): what a claim returns of each delivery.
// Its endpoints are read after, once each (claimEndpoints), not once per
// delivery: their 22 columns, decoded and their secrets opened, were
// half of what a claim's read of its rows cost (docs/design.md).
const ClaimedCols = DeliveryCols + `, d.body, d.body IS NOT NULL, d.lease_expires_at, ` + EventCols

// ScanClaimed scans one row of ClaimedCols, for the drivers' claim
// queries. The endpoint is left to claimEndpoints, which Claim runs.
func (s *Store) ScanClaimed(r Row) (*store.Claimed, error) {
	var dr deliveryRow
	var er eventRow
	var hasBody bool
	c := &store.Claimed{}
	dest := append(dr.dest(), &c.Body, &hasBody, &c.LeaseUntil)
	dest = append(dest, er.dest()...)
	if err := r.Scan(dest...); err != nil {
		return nil, err
	}
	// SQLite reads an empty BLOB back as nil: a body that was stored, even
	// empty, must still be sent as stored.
	if hasBody && c.Body == nil {
		c.Body = []byte{}
	}
	c.Delivery, c.Event = dr.value(), er.value()
	c.LeaseUntil = store.Timestamp(c.LeaseUntil)
	return c, nil
}

// claimEndpoints reads the endpoints of the deliveries a claim leased
// (ScanClaimed), each once, in the claim's transaction tx, with their
// secrets opened, and sets each delivery's; deliveries of one endpoint
// share it, as a hand-off's do. The claim leased only deliveries of live
// endpoints, so one that is not there fails the claim, which leaves its
// leases unwritten.
func (s *Store) claimEndpoints(ctx context.Context, tx Querier, cs []*store.Claimed) error {
	if len(cs) == 0 {
		return nil
	}
	ids := make([]string, 0, 8)
	for _, c := range cs {
		if !slices.Contains(ids, c.Delivery.EndpointID) {
			ids = append(ids, c.Delivery.EndpointID)
		}
	}
	rows, err := tx.Query(ctx, `SELECT `+EndpointCols+` FROM endpoints ep WHERE `+s.db.InList("ep.id", 1), ids)
	eps, err := Collect(rows, err, s.scanEndpoint)
	if err != nil {
		return err
	}
	byID := make(map[string]*store.Endpoint, len(eps))
	for _, ep := range eps {
		byID[ep.ID] = ep
	}
	for _, c := range cs {
		if c.Endpoint = byID[c.Delivery.EndpointID]; c.Endpoint == nil {
			return fmt.Errorf("claimed delivery %q: endpoint %q: %w", c.Delivery.ID, c.Delivery.EndpointID, store.ErrNotFound)
		}
	}
	return nil
}

// deliveryViewCols are DeliveryCols and whether the delivery's endpoint
// was deleted, what DeliveryGet and DeliveryList show (scanDeliveryView).
// A subquery rather than a join, so the list's unqualified conditions
// still name the deliveries' columns.
const deliveryViewCols = DeliveryCols + `, ` + endpointDeleted

func scanDeliveryView(r Row) (*store.Delivery, error) {
	var dr deliveryRow
	var deleted bool
	if err := r.Scan(append(dr.dest(), &deleted)...); err != nil {
		return nil, err
	}
	d := dr.value()
	d.EndpointDeleted = deleted
	return d, nil
}

func (s *Store) getDelivery(ctx context.Context, q Querier, tenantID, deliveryID string) (*store.Delivery, error) {
	return getRow(ctx, s, q, scanDeliveryView, fmt.Sprintf("delivery %q", deliveryID),
		`SELECT `+deliveryViewCols+` FROM deliveries d WHERE d.tenant_id = $1 AND d.id = $2`, tenantID, deliveryID)
}

// DeliveryGet loads one of the tenant's deliveries, its endpoint deleted
// or not.
func (s *Store) DeliveryGet(ctx context.Context, tenantID, deliveryID string) (*store.Delivery, error) {
	return s.getDelivery(ctx, s.read, tenantID, deliveryID)
}

// DeliveryList pages through the tenant's deliveries, newest first, with
// the filters p sets; those of deleted endpoints are listed too. Each
// filter has an index that leads with it and goes on with created_at, so
// the window and the cursor are ranges of it
// (deliveries_list_status, deliveries_list_endpoint, deliveries_list_type
// of migration 6, deliveries_list), but for an event's, which are few and
// sorted (deliveries_event).
func (s *Store) DeliveryList(ctx context.Context, tenantID string, p *store.DeliveryListParams) ([]*store.Delivery, error) {
	q := `SELECT ` + deliveryViewCols + ` FROM deliveries d`
	if p.EventID != "" {
		// An event's deliveries are few: SQLite, left to itself, walked the
		// tenant's newest-first index instead and took 274 ms at 100,000
		// deliveries (internal/web BenchmarkPages).
		q += s.db.IndexHint("deliveries_event")
	} else if !p.Since.IsZero() || !p.Until.IsZero() {
		// The index of the most selective filter given, which a window
		// (a second range on created_at) would make SQLite pass over.
		switch {
		case p.EndpointID != "":
			q += s.db.IndexHint("deliveries_list_endpoint")
		case p.EventType != "":
			q += s.db.IndexHint("deliveries_list_type")
		case p.Status != "":
			q += s.db.IndexHint("deliveries_list_status")
		default:
			q += s.db.IndexHint("deliveries_list")
		}
	}
	q += ` WHERE tenant_id = $1`
	args := []any{tenantID}
	for _, f := range []struct{ col, val string }{
		{"status", p.Status}, {"endpoint_id", p.EndpointID}, {"event_id", p.EventID}, {"event_type", p.EventType},
	} {
		if f.val != "" {
			args = append(args, f.val)
			q += fmt.Sprintf(" AND %s = $%d", f.col, len(args))
		}
	}
	q, args = createdWithin(q, args, p.Since, p.Until)
	return pageRows(ctx, s, scanDeliveryView, "deliveries", &p.ListParams, "id", q, args...)
}

const attemptCols = `id, delivery_id, number, started_at, duration_ms, response_code, response_body, error`

func scanAttempt(r Row) (*store.Attempt, error) {
	var a store.Attempt
	var body []byte
	if err := r.Scan(&a.ID, &a.DeliveryID, &a.Number, &a.StartedAt, &a.DurationMS,
		&a.ResponseCode, &body, &a.Error); err != nil {
		return nil, err
	}
	a.ResponseBody = string(body)
	a.StartedAt = store.Timestamp(a.StartedAt)
	return &a, nil
}

// DeliveryAttempts lists a delivery's attempts, oldest first.
func (s *Store) DeliveryAttempts(ctx context.Context, deliveryID string) ([]*store.Attempt, error) {
	return listRows(ctx, s, scanAttempt, "attempts", `SELECT `+attemptCols+` FROM attempts WHERE delivery_id = $1 ORDER BY number`, deliveryID)
}

// DeliveryAttemptsLatest lists a delivery's latest attempts within a byte
// budget, oldest first; see store.Store. It reads newest first and stops
// at the first attempt that does not fit.
func (s *Store) DeliveryAttemptsLatest(ctx context.Context, deliveryID string, maxBytes int) ([]*store.Attempt, error) {
	rows, err := s.read.Query(ctx, `SELECT `+attemptCols+` FROM attempts WHERE delivery_id = $1 ORDER BY number DESC`, deliveryID)
	if err != nil {
		return nil, s.Err(err, "list attempts")
	}
	defer rows.Close()
	fill := store.NewBytesFill(maxBytes)
	var out []*store.Attempt
	for rows.Next() {
		a, err := scanAttempt(rows)
		if err != nil {
			return nil, s.Err(err, "list attempts")
		}
		if !fill.Fits(a.Size()) {
			break
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, s.Err(err, "list attempts")
	}
	slices.Reverse(out)
	return out, nil
}

// DeliveryRecordAttempt stores an attempt and moves the delivery on, fenced
// by the lease; see store.Store. It is a batch of one.
func (s *Store) DeliveryRecordAttempt(ctx context.Context, p *store.AttemptRecordParams) (*store.Attempt, error) {
	res, err := s.DeliveryRecordAttempts(ctx, []*store.AttemptRecordParams{p})
	if err != nil {
		return nil, err
	}
	return res[0].Attempt, res[0].Err
}

// recordCols are the columns of a batch's delivery updates. None is named
// as a column of deliveries that RETURNING reads, which SQLite requires to
// be unqualified.
var recordCols = []Col{
	{"delivery_id", ColText}, {"owner", ColText}, {"status", ColText}, {"next", ColTime},
	{"code", ColInt}, {"error", ColText}, {"body", ColBytes}, {"now", ColTime},
}

// attemptRowCols are the columns of a batch's attempt rows.
var attemptRowCols = []Col{
	{"id", ColText}, {"delivery_id", ColText}, {"number", ColInt}, {"started_at", ColTime},
	{"duration_ms", ColInt}, {"response_code", ColInt}, {"response_body", ColBytes}, {"error", ColText},
}

// keptBody is the body a record stores with its delivery: the bytes sent,
// so that every later attempt sends them again, where a later attempt may
// come (retrying, or failed, which a person may retry). A delivered
// delivery keeps none: the body was most of its row, a second copy of the
// event's data per endpoint, and writing it was a fifth of a SQLite
// record's time (docs/design.md). A retry of a delivered delivery renders
// it again, from the same event, as the endpoint's format is then.
func keptBody(p *store.AttemptRecordParams) []byte {
	if p.Status == store.StatusDelivered {
		return nil
	}
	return p.Body
}

// DeliveryRecordAttempts records a batch of attempts in one transaction of
// set-based statements whatever its size: the fenced update of every
// delivery, the insert of the attempts it let through, the health of their
// endpoints and its hourly counts (recordHealth), and, only when some were
// refused, the look-up that tells a lost lease from a missing row.
func (s *Store) DeliveryRecordAttempts(ctx context.Context, ps []*store.AttemptRecordParams) ([]store.AttemptRecordResult, error) {
	res := make([]store.AttemptRecordResult, len(ps))
	atts := make([]store.Attempt, len(ps))
	at := make(map[string]int, len(ps)) // delivery id -> its index in ps
	var rows Table
	for i, p := range ps {
		if err := p.Validate(); err != nil {
			res[i].Err = err
			continue
		}
		if _, dup := at[p.DeliveryID]; dup {
			// Recorded in sequence, the first would end the lease and
			// this one find it lost: so it is here.
			res[i].Err = fmt.Errorf("delivery %q: %w", p.DeliveryID, store.ErrLeaseLost)
			continue
		}
		at[p.DeliveryID] = i
		var next *time.Time
		if p.Status == store.StatusRetrying {
			next = tsPtr(p.NextAttemptAt)
		}
		a := p.NewAttempt(s.now())
		a.Error = cleanText(a.Error)
		atts[i] = a
		rows = append(rows, []any{p.DeliveryID, p.Owner, p.Status, next, a.ResponseCode, a.Error, keptBody(p), s.orNow(p.Now)})
	}
	if len(rows) == 0 {
		return res, nil
	}
	var numbers map[string]int
	var refused map[string]error
	var disabled map[int]*store.EndpointDisabled
	// This commit need not wait for its log flush (AsyncTx): if the
	// database itself crashed before the flush, the deliveries would still
	// be leased and be attempted again (at least once, as after a Herald
	// crash), while not waiting for an fsync per batch is what lets one
	// endpoint get more than a few hundred attempts a second. Events,
	// which are the data Herald must never lose, are committed
	// synchronously.
	err := s.db.AsyncTx(ctx, func(tx Querier) error {
		// The fence: only the lease holder may record. If the lease ran out
		// and another worker claimed the delivery, lease_owner is theirs and
		// this attempt is dropped (ErrLeaseLost), so one attempt number is
		// never recorded twice. The join is driven from the rows, each
		// finding its delivery by key (a list of the keys as well made
		// PostgreSQL's generic plan probe the rows once per delivery). The
		// status is tested IS TRUE, which no partial index's predicate is
		// proved from: with a plain status = 'delivering' PostgreSQL's
		// generic plan drove the join from deliveries_leased, whose rows
		// its statistics, taken while few were leased, put at one, and
		// probed the batch's rows once per lease (21,462 rows filtered out
		// for 147 recorded, 16 of a record's 22 ms, docs/design.md).
		// An attempt in flight when its endpoint was deleted is recorded,
		// and its delivery fails rather than wait for a retry that will
		// never be claimed (the subquery runs for retrying outcomes only).
		r, err := tx.Query(ctx, `
			UPDATE deliveries AS d SET
				attempts = d.attempts + 1,
				series_attempts = d.series_attempts + 1,
				status = CASE WHEN n.status = 'retrying' AND `+endpointDeleted+` THEN 'failed' ELSE n.status END,
				next_attempt_at = CASE WHEN n.status = 'retrying' AND `+endpointDeleted+` THEN NULL ELSE n.next END,
				lease_owner = NULL,
				lease_expires_at = NULL,
				last_status_code = n.code,
				last_error = n.error,
				body = coalesce(d.body, n.body),
				updated_at = n.now
			FROM `+s.db.Rows(1, "n", recordCols...)+`
			WHERE d.id = n.delivery_id
				AND (d.status = 'delivering') IS TRUE AND d.lease_owner = n.owner
			RETURNING id, attempts, endpoint_id`, rows)
		type numbered struct {
			id, endpoint string
			n            int
		}
		got, err := Collect(r, err, func(r Row) (numbered, error) {
			var v numbered
			return v, r.Scan(&v.id, &v.n, &v.endpoint)
		})
		if err != nil {
			return err
		}
		numbers = make(map[string]int, len(got))
		inserts := make(Table, 0, len(got))
		recs := make([]recorded, 0, len(got))
		var latest time.Time // the batch's time: its latest record's
		for _, v := range got {
			numbers[v.id] = v.n
			i := at[v.id]
			a := &atts[i]
			recAt := s.orNow(ps[i].Now)
			if recAt.After(latest) {
				latest = recAt
			}
			started := a.StartedAt
			if started.IsZero() {
				started = recAt
			}
			recs = append(recs, recorded{i: i, endpoint: v.endpoint, ok: ps[i].Status == store.StatusDelivered,
				code: a.ResponseCode, started: started})
			a.Number = v.n
			// Never nil: an empty body is stored empty, not NULL.
			body := append([]byte{}, a.ResponseBody...)
			inserts = append(inserts, []any{a.ID, a.DeliveryID, a.Number, a.StartedAt, a.DurationMS,
				a.ResponseCode, body, a.Error})
		}
		if len(inserts) > 0 {
			if _, err := tx.Exec(ctx, `
				INSERT INTO attempts (id, delivery_id, number, started_at, duration_ms, response_code, response_body, error)
				SELECT a.id, a.delivery_id, a.number, a.started_at, a.duration_ms, a.response_code, a.response_body, a.error
				FROM `+s.db.Rows(1, "a", attemptRowCols...), inserts); err != nil {
				return err
			}
		}
		if disabled, err = s.recordHealth(ctx, tx, ps, recs, latest); err != nil {
			return err
		}
		refused, err = s.leasesLost(ctx, tx, rows, numbers)
		return err
	})
	if err != nil {
		return nil, s.Err(err, "record %d attempts", len(rows))
	}
	for _, row := range rows {
		id := row[0].(string)
		i := at[id]
		if err := refused[id]; err != nil {
			res[i].Err = err
			continue
		}
		a := atts[i]
		res[i].Attempt = &a
		res[i].Disabled = disabled[i]
	}
	return res, nil
}

// endpointDeleted is the condition that the endpoint of the deliveries row
// d was deleted.
const endpointDeleted = `EXISTS (SELECT 1 FROM endpoints ep WHERE ep.id = d.endpoint_id AND NOT (` + EndpointLive + `))`

// leasesLost tells, for each row of a batch the fenced update did not
// number, why: the delivery is gone, or its lease is not the caller's.
func (s *Store) leasesLost(ctx context.Context, q Querier, rows Table, numbered map[string]int) (map[string]error, error) {
	var ids []string
	for _, row := range rows {
		if id := row[0].(string); numbered[id] == 0 {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	r, err := q.Query(ctx, `SELECT id FROM deliveries WHERE `+s.db.InList("id", 1), ids)
	found, err := Collect(r, err, func(r Row) (string, error) {
		var id string
		return id, r.Scan(&id)
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]error, len(ids))
	for _, id := range ids {
		out[id] = fmt.Errorf("delivery %q: %w", id, store.ErrNotFound)
	}
	for _, id := range found {
		out[id] = fmt.Errorf("delivery %q: %w", id, store.ErrLeaseLost)
	}
	return out, nil
}

// leaseLost tells why a fenced update matched nothing: the delivery is gone,
// or its lease is not the caller's.
func leaseLost(ctx context.Context, q Querier, deliveryID string) error {
	var exists bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM deliveries WHERE id = $1)`, deliveryID).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		return fmt.Errorf("delivery %q: %w", deliveryID, store.ErrNotFound)
	}
	return fmt.Errorf("delivery %q: %w", deliveryID, store.ErrLeaseLost)
}

// DeliveryRelease hands a leased delivery back unattempted, due at next.
func (s *Store) DeliveryRelease(ctx context.Context, deliveryID, owner string, next time.Time) error {
	err := s.db.Tx(ctx, func(tx Querier) error {
		n, err := tx.Exec(ctx, `
			UPDATE deliveries SET
				-- Back to where the claim found it: pending before the first
				-- attempt of the series, retrying after one.
				status = CASE WHEN series_attempts = 0 THEN 'pending' ELSE 'retrying' END,
				next_attempt_at = $3,
				lease_owner = NULL,
				lease_expires_at = NULL,
				updated_at = $4
			WHERE id = $1 AND status = 'delivering' AND lease_owner = $2`,
			deliveryID, owner, store.Timestamp(next), s.Now())
		if err != nil {
			return err
		}
		if n == 0 {
			return leaseLost(ctx, tx, deliveryID)
		}
		// Unless its endpoint was deleted meanwhile: then it fails unsent,
		// as the delete failed the others that were waiting.
		if _, err := tx.Exec(ctx, `
			UPDATE deliveries AS d SET status = 'failed', next_attempt_at = NULL, last_error = $2
			WHERE d.id = $1 AND `+endpointDeleted, deliveryID, store.EndpointDeletedError); err != nil {
			return err
		}
		return s.db.Notify(ctx, tx)
	})
	return s.Err(err, "release delivery %q", deliveryID)
}

// DeliveryRetry starts a new attempt series for a finished delivery, or
// brings the next attempt of a waiting one to now; see store.Store. One
// statement decides by the row's own status, so a claim that takes the
// delivery meanwhile makes it a conflict, never a lost update.
func (s *Store) DeliveryRetry(ctx context.Context, tenantID, deliveryID string, now time.Time) (*store.Delivery, error) {
	now = store.Timestamp(now)
	var out *store.Delivery
	err := s.db.Tx(ctx, func(tx Querier) error {
		var err error
		out, err = scanDelivery(tx.QueryRow(ctx, `
			UPDATE deliveries AS d SET
				status = CASE WHEN d.status IN ('delivered', 'failed') THEN 'pending' ELSE d.status END,
				series_attempts = CASE WHEN d.status IN ('delivered', 'failed') THEN 0 ELSE d.series_attempts END,
				next_attempt_at = CASE
					WHEN d.status IN ('pending', 'retrying') AND d.next_attempt_at <= $3 THEN d.next_attempt_at
					ELSE $3 END,
				updated_at = $3
			WHERE d.tenant_id = $1 AND d.id = $2 AND d.status IN ('delivered', 'failed', 'pending', 'retrying')
				AND NOT `+endpointDeleted+`
			RETURNING `+returning(DeliveryCols), tenantID, deliveryID, now))
		if errors.Is(err, ErrNoRows) {
			cur, err := s.getDelivery(ctx, tx, tenantID, deliveryID)
			if err != nil {
				return err
			}
			if cur.EndpointDeleted {
				return fmt.Errorf("delivery %q cannot be retried: its endpoint %s was deleted: %w", deliveryID, cur.EndpointID, store.ErrConflict)
			}
			return fmt.Errorf("delivery %q is %s: %w", deliveryID, cur.Status, store.ErrConflict)
		}
		if err != nil {
			return err
		}
		return s.db.Notify(ctx, tx)
	})
	if err != nil {
		return nil, s.Err(err, "retry delivery %q", deliveryID)
	}
	return out, nil
}

// DeliveryRetryNow brings an endpoint's retrying backlog to now in batches;
// see store.Store. Each batch walks the claim's index on (endpoint_id,
// next_attempt_at, id) from where the last one stopped, over the rows due
// after now only: a moved row is due at now and falls behind the walk, so
// it is never read again, and the rows already due are never read at all.
// The update checks the status again, so a row a claim took between the
// two statements is left to the claim.
func (s *Store) DeliveryRetryNow(ctx context.Context, p *store.DeliveryRetryNowParams) (int, error) {
	now := store.Timestamp(p.Now)
	batch := p.Batch
	if batch <= 0 {
		batch = store.DefaultRetryNowBatch
	}
	var exists bool
	if err := s.read.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM endpoints ep WHERE ep.tenant_id = $1 AND ep.id = $2 AND `+EndpointLive+`)`,
		p.TenantID, p.EndpointID).Scan(&exists); err != nil {
		return 0, s.Err(err, "retry now endpoint %q", p.EndpointID)
	}
	if !exists {
		return 0, fmt.Errorf("endpoint %q: %w", p.EndpointID, store.ErrNotFound)
	}
	type key struct {
		id   string
		next time.Time
	}
	var moved int
	var after *key
	for {
		var keys []key
		err := s.db.Tx(ctx, func(tx Querier) error {
			// The status IN term repeats the partial index's own, which
			// SQLite needs to use it.
			q := `SELECT d.id, d.next_attempt_at FROM deliveries d
				WHERE d.endpoint_id = $1 AND d.status IN ('pending', 'retrying', 'delivering')
					AND d.status = 'retrying' AND d.next_attempt_at > $2`
			args := []any{p.EndpointID, now, batch}
			if after != nil {
				q += ` AND (d.next_attempt_at, d.id) > ($4, $5)`
				args = append(args, after.next, after.id)
			}
			rows, err := tx.Query(ctx, q+` ORDER BY d.next_attempt_at, d.id LIMIT $3`, args...)
			keys, err = Collect(rows, err, func(r Row) (key, error) {
				var k key
				return k, r.Scan(&k.id, &k.next)
			})
			if err != nil || len(keys) == 0 {
				return err
			}
			ids := make([]string, len(keys))
			for i, k := range keys {
				ids[i] = k.id
			}
			n, err := tx.Exec(ctx, `
				UPDATE deliveries SET next_attempt_at = $2, updated_at = $2
				WHERE `+s.db.InList("id", 1)+` AND status = 'retrying' AND next_attempt_at > $2`, ids, now)
			if err != nil || n == 0 {
				return err
			}
			moved += int(n)
			return s.db.Notify(ctx, tx)
		})
		if err != nil {
			return moved, s.Err(err, "retry now endpoint %q (%d moved)", p.EndpointID, moved)
		}
		if len(keys) < batch {
			return moved, nil
		}
		last := keys[len(keys)-1]
		after = &key{id: last.id, next: store.Timestamp(last.next)}
	}
}

// DeliveryNextDue returns when the earliest claimable delivery is due.
func (s *Store) DeliveryNextDue(ctx context.Context) (time.Time, error) {
	// Deliveries of disabled (or deleted) endpoints are not claimable, so
	// they must not count here either: a worker told "due now" that then
	// claims nothing would spin. The endpoints with unfinished deliveries
	// are found by skipping through the (endpoint, due) index, one probe
	// each, and each one's earliest due time by one more: the cost follows
	// the endpoints with work, never the backlog. A join of endpoints to
	// their due rows ordered by due time was planned on PostgreSQL as a
	// read of every due row of every enabled endpoint, 20 ms at 20,000 and
	// growing with the backlog, after every claim (docs/design.md).
	var at time.Time
	err := s.read.QueryRow(ctx, `
		WITH RECURSIVE active(endpoint_id) AS (
			SELECT min(d.endpoint_id) FROM deliveries d
			WHERE d.status IN ('pending', 'retrying', 'delivering')
			UNION ALL
			SELECT (SELECT min(d.endpoint_id) FROM deliveries d
				WHERE d.status IN ('pending', 'retrying', 'delivering') AND d.endpoint_id > a.endpoint_id)
			FROM active a
			WHERE a.endpoint_id IS NOT NULL
		)
		SELECT due FROM (
			SELECT (SELECT min(d.next_attempt_at) FROM deliveries d
				WHERE d.endpoint_id = ep.id AND d.status IN ('pending', 'retrying', 'delivering')) AS due
			FROM active a JOIN endpoints ep ON ep.id = a.endpoint_id
			WHERE ep.enabled AND `+EndpointLive+`
		) x
		WHERE due IS NOT NULL
		ORDER BY due
		LIMIT 1`).Scan(&at)
	if err != nil {
		return time.Time{}, s.Err(notFound(err, "next due delivery"), "next due delivery")
	}
	return store.Timestamp(at), nil
}

// DeliveryExtendLeases is the heartbeat for attempts in flight.
func (s *Store) DeliveryExtendLeases(ctx context.Context, owner string, ids []string, until time.Time) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	// A delivering row's next_attempt_at mirrors its lease expiry. A row
	// another transaction has locked is skipped, not waited for: it is
	// being recorded (its lease ends with the record) or handed back, or
	// the next beat, a third of the lease later, extends it. Waited for,
	// the batch's record, which locks the same rows in another order,
	// deadlocked with it, and PostgreSQL took a second to tell.
	n, err := s.write.Exec(ctx, `
		UPDATE deliveries SET lease_expires_at = $3, next_attempt_at = $3
		WHERE id IN (
			SELECT id FROM deliveries
			WHERE `+s.db.InList("id", 2)+` AND lease_owner = $1 AND status = 'delivering'
			ORDER BY id`+s.db.LockClause(LockUpdateSkipLocked)+`)`,
		owner, ids, store.Timestamp(until))
	if err != nil {
		return 0, s.Err(err, "extend leases")
	}
	return int(n), nil
}

// Claim is DeliveryClaimDue around a driver's own claim query: it checks p,
// and runs claim in one transaction with the claim's time and lease expiry
// in stored precision, then reads the endpoints of what claim leased
// (claimEndpoints), which claim's rows (ScanClaimed) leave out. The query
// is the drivers' own because the fastest claim differs by database
// (docs/design.md). With p.Probe, probe first
// answers, on the read pool and outside the claims' turn, whether claim
// would find room for anything, and nothing is claimed when it would not.
func (s *Store) Claim(ctx context.Context, p *store.DeliveryClaimParams,
	probe func(ctx context.Context, q Querier, now, until time.Time) (bool, error),
	claim func(ctx context.Context, tx Querier, now, until time.Time) ([]*store.Claimed, error)) ([]*store.Claimed, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	now := store.Timestamp(p.Now)
	until := store.Timestamp(p.Now.Add(p.Lease))
	if p.Probe {
		switch room, err := probe(ctx, s.read, now, until); {
		case err != nil:
			return nil, s.Err(err, "look for room to claim")
		case !room:
			return nil, nil
		}
	}
	var out []*store.Claimed
	err := s.db.Tx(ctx, func(tx Querier) error {
		cs, err := claim(ctx, tx, now, until)
		if err == nil {
			err = s.claimEndpoints(ctx, tx, cs)
		}
		if err != nil {
			return err
		}
		var later map[string]time.Time
		if out, later, err = s.takeTurns(ctx, tx, now, cs); err != nil {
			return err
		}
		return s.putBack(ctx, tx, p.Owner, later)
	})
	if err != nil {
		return nil, s.Err(err, "claim due deliveries")
	}
	return out, nil
}

// Stats reads the queue's gauges. Each query reads a partial index, whose
// rows are the unfinished deliveries and the disabled endpoints only, so
// its cost follows the size of the queue, never that of the table:
// delivered and failed rows, however many, are not read.
func (s *Store) Stats(ctx context.Context) (*store.Stats, error) {
	st := &store.Stats{Deliveries: map[string]int{
		store.StatusPending: 0, store.StatusDelivering: 0, store.StatusRetrying: 0,
	}}
	// The condition is the partial indexes' own, word for word: SQLite
	// uses a partial index only for a query whose WHERE clause has its
	// terms.
	rows, err := s.read.Query(ctx, `
		SELECT status, count(*) FROM deliveries
		WHERE status IN ('pending', 'retrying', 'delivering')
		GROUP BY status`)
	type count struct {
		status string
		n      int
	}
	counts, err := Collect(rows, err, func(r Row) (count, error) {
		var c count
		return c, r.Scan(&c.status, &c.n)
	})
	if err != nil {
		return nil, s.Err(err, "count unfinished deliveries")
	}
	for _, c := range counts {
		st.Deliveries[c.status] = c.n
	}
	switch next, err := s.DeliveryNextDue(ctx); {
	case err == nil:
		st.NextDue = &next
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	// Deleted endpoints are not enabled either, but are not counted: the
	// partial index holds the live disabled ones only (migration 9).
	if err := s.read.QueryRow(ctx, `SELECT count(*) FROM endpoints ep WHERE NOT enabled AND `+EndpointLive).Scan(&st.EndpointsDisabled); err != nil {
		return nil, s.Err(err, "count disabled endpoints")
	}
	return st, nil
}
