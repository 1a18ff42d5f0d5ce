package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// EventCols are the columns eventRow scans; queries name the table ev.
const EventCols = `ev.tenant_id, ev.id, ev.type, ev.data, ev.hash, ev.trace_id, ev.source, ev.created_at`

type eventRow struct {
	e    store.Event
	data []byte
}

func (r *eventRow) dest() []any {
	e := &r.e
	return []any{&e.TenantID, &e.ID, &e.Type, &r.data, &e.Hash, &e.TraceID, &e.Source, &e.CreatedAt}
}

func (r *eventRow) value() *store.Event {
	e := r.e
	e.Data = r.data
	if e.Data == nil {
		e.Data = json.RawMessage{}
	}
	e.CreatedAt = store.Timestamp(e.CreatedAt)
	return &e
}

func scanEvent(r Row) (*store.Event, error) {
	var er eventRow
	if err := r.Scan(er.dest()...); err != nil {
		return nil, err
	}
	return er.value(), nil
}

// EventCreate stores the event and its deliveries in one transaction; see
// store.Store. It is EventCreateMany of one, so both follow one rule.
func (s *Store) EventCreate(ctx context.Context, p *store.EventCreateParams) (*store.EventCreateResult, error) {
	out, _, err := s.EventCreateMany(ctx, []*store.EventCreateParams{p}, nil)
	if err != nil {
		return nil, err
	}
	return out[0].Result, out[0].Err
}

// Rows per multi-row INSERT. Small, because SQLite's driver (modernc)
// finds each argument's parameter by a scan of the statement's, so binding
// costs the square of a statement's arguments: at 500 rows 64 events at
// fan-out 10 took 63 ms, at 32 rows 23 ms (17.7 ms with the statements kept
// prepared), and PostgreSQL did no worse (BenchmarkBatch, docs/design.md).
const insertChunk = 32

// EventCreateMany stores several events and their deliveries in one
// transaction; see store.Store. Nothing an event can be refused for (a
// missing tenant or endpoint, an id reused with other content) is left to
// a failing statement, which on PostgreSQL would abort the transaction for
// its neighbours too: those are read first and answered per event. The one
// exception, an id another transaction stores between that read and the
// insert, aborts it, and the batch runs again (eventCreateManyTx).
func (s *Store) EventCreateMany(ctx context.Context, ps []*store.EventCreateParams, h *store.HandOff) ([]store.EventCreateOutcome, []*store.Claimed, error) {
	exact := !s.db.Remote()
	out, handed, err := s.eventCreateManyTx(ctx, ps, h, exact)
	if !exact && s.is(err, KindUnique) {
		// A post of one of the batch's event ids committed between the
		// batch's read of its events and its insert (PostgreSQL: SQLite's
		// single writer serializes them). Again, each insert now told by
		// the database whether its row is new.
		out, handed, err = s.eventCreateManyTx(ctx, ps, h, true)
	}
	if err != nil {
		if len(ps) == 1 {
			return nil, nil, fmt.Errorf("create event %q: %w", ps[0].Event.ID, err)
		}
		return nil, nil, fmt.Errorf("create %d events: %w", len(ps), err)
	}
	return out, handed, nil
}

// eventCreateManyTx is EventCreateMany's transaction. With exact, each
// insert of events is read back, skipping the rows that exist by then
// (SQLite, where that costs nothing more). Without it (PostgreSQL,
// Driver.Remote), which of its events are stored already is read with the
// batch's tenants, keys and endpoints, so the new ones are inserted with
// no statement of their own to wait for: the insert goes out with the
// next (Driver.Defer), one round trip fewer. A concurrent insert of the
// same id then fails the transaction (KindUnique), and EventCreateMany
// runs it again exact.
func (s *Store) eventCreateManyTx(ctx context.Context, ps []*store.EventCreateParams, h *store.HandOff, exact bool) ([]store.EventCreateOutcome, []*store.Claimed, error) {
	var out []store.EventCreateOutcome
	var handed []*store.Claimed
	err := s.db.Tx(ctx, func(tx Querier) error {
		// PostgreSQL planned the batch's look-ups of its tenants, keys
		// and endpoints anew every time, never settling on a generic
		// plan (their arguments are arrays): 0.16 ms of planning a batch
		// for 0.05 of running them. The count of leases goes back to
		// plans for its arguments (handOff).
		if err := s.db.GenericPlans(ctx, tx, true); err != nil {
			return s.Err(err, "begin")
		}
		var err error
		out, handed, err = s.eventCreateMany(ctx, tx, ps, h, exact)
		return err
	})
	return out, handed, err
}

// batchOwners is what eventOwners found of a batch's tenants and keys
// and, when asked, their endpoints.
type batchOwners struct {
	tenants   []string           // the tenants that exist, sorted
	keys      map[string]bool    // the API keys that exist
	stored    map[[2]string]bool // of eventKeys, those stored already
	endpoints map[string][]*store.Endpoint
}

// eventOwners returns, of the batch's tenants (sorted, distinct), those
// that exist, and which of the API keys its events are posted with still
// do, in one statement. Both are key-share locked: a concurrent
// TenantDelete or KeyDelete waits for this batch (the events were then
// accepted before the tenant or the key went) or this batch for it (and
// finds it gone), instead of failing the inserts. With endpoints, the
// tenants' endpoints are read too (tenantEndpoints), and with eventKeys
// (tenant, id), which of those events are stored already, in the same
// round trip (Driver.Batch): the first of a batch's three on PostgreSQL,
// two when it hands nothing off.
func (s *Store) eventOwners(ctx context.Context, tx Querier, tenantIDs []string, eventKeys Table, ps []*store.EventCreateParams, endpoints bool) (*batchOwners, error) {
	keyIDs := []string{}
	for _, p := range ps {
		if p.KeyID != "" {
			keyIDs = append(keyIDs, p.KeyID)
		}
	}
	keyIDs = slices.Compact(slices.Sorted(slices.Values(keyIDs)))
	lock := s.db.LockClause(LockKeyShare)
	out := &batchOwners{keys: map[string]bool{}}
	stmts := []Stmt{{
		SQL: `
		WITH t AS (SELECT id FROM tenants WHERE ` + s.db.InList("id", 1) + ` ORDER BY id` + lock + `),
			k AS (SELECT id FROM api_keys WHERE ` + s.db.InList("id", 2) + ` ORDER BY id` + lock + `)
		SELECT 0, id FROM t UNION ALL SELECT 1, id FROM k`,
		Args: []any{tenantIDs, keyIDs},
		Scan: func(r Row) error {
			var kind int
			var id string
			if err := r.Scan(&kind, &id); err != nil {
				return err
			}
			if kind == 1 {
				out.keys[id] = true
			} else {
				out.tenants = append(out.tenants, id)
			}
			return nil
		},
	}}
	if eventKeys != nil {
		out.stored = map[[2]string]bool{}
		stmts = append(stmts, Stmt{
			// Each event's key looked up in the primary key, a subquery per
			// row: as a join, PostgreSQL's generic plan, made while the table
			// was new, read every event into a hash (1 ms a batch by 20,000).
			SQL: `SELECT k.tenant_id, k.id, (SELECT 1 FROM events e WHERE e.tenant_id = k.tenant_id AND e.id = k.id)
				FROM ` + s.db.Rows(1, "k", eventKeyCols...),
			Args: []any{eventKeys},
			Scan: func(r Row) error {
				var k [2]string
				var found *int
				if err := r.Scan(&k[0], &k[1], &found); err != nil {
					return err
				}
				if found != nil {
					out.stored[k] = true
				}
				return nil
			},
		})
	}
	if endpoints {
		out.endpoints = map[string][]*store.Endpoint{}
		stmts = append(stmts, s.tenantEndpoints(tenantIDs, out.endpoints))
	}
	if err := s.db.Batch(ctx, tx, stmts...); err != nil {
		return nil, s.Err(err, "find tenants, keys and endpoints")
	}
	slices.Sort(out.tenants)
	return out, nil
}

// pendingEvent is one event of a batch on its way in.
type pendingEvent struct {
	p   *store.EventCreateParams
	ev  store.Event
	now time.Time
}

func (s *Store) eventCreateMany(ctx context.Context, tx Querier, ps []*store.EventCreateParams, h *store.HandOff, exact bool) ([]store.EventCreateOutcome, []*store.Claimed, error) {
	out := make([]store.EventCreateOutcome, len(ps))
	evs := make([]pendingEvent, len(ps))
	tenantIDs := make([]string, 0, len(ps))
	var eventKeys Table // the events to look up before their insert
	if !exact {
		eventKeys = make(Table, 0, len(ps))
	}
	for i, p := range ps {
		now := s.orNow(p.Now)
		evs[i] = pendingEvent{p: p, ev: p.NewEvent(now), now: now}
		tenantIDs = append(tenantIDs, evs[i].ev.TenantID)
		if !exact {
			eventKeys = append(eventKeys, []any{evs[i].ev.TenantID, evs[i].ev.ID})
		}
	}
	tenantIDs = slices.Compact(slices.Sorted(slices.Values(tenantIDs)))
	needEndpoints := slices.ContainsFunc(ps, func(p *store.EventCreateParams) bool { return p.EndpointIDs == nil })
	owners, err := s.eventOwners(ctx, tx, tenantIDs, eventKeys, ps, needEndpoints)
	if err != nil {
		return nil, nil, err
	}
	tenants, keys := owners.tenants, owners.keys

	// Insert every new event, 32 a statement; the ones that exist already
	// (or twice in this batch) are answered as re-posts below. Those
	// stored before are known from eventOwners, and the insert waits for
	// the next statement (eventCreateManyTx). With exact, ON CONFLICT DO
	// NOTHING rather than a unique violation: on PostgreSQL a concurrent
	// post of the same id makes this insert wait for that transaction and
	// then do nothing, and the read that follows (a new statement, so a
	// new snapshot) sees the committed event; on SQLite the single writer
	// serializes the two posts outright.
	var insert []int
	first := map[[2]string]int{}
	for i := range evs {
		ev := &evs[i].ev
		if _, ok := slices.BinarySearch(tenants, ev.TenantID); !ok {
			out[i].Err = fmt.Errorf("create event %q: tenant %q: %w", ev.ID, ev.TenantID, store.ErrNotFound)
			continue
		}
		if k := evs[i].p.KeyID; k != "" && !keys[k] {
			out[i].Err = fmt.Errorf("create event %q: API key %q: %w", ev.ID, k, store.ErrUnauthorized)
			continue
		}
		key := [2]string{ev.TenantID, ev.ID}
		if _, dup := first[key]; dup {
			continue
		}
		first[key] = i
		if !owners.stored[key] { // stored: a re-post, answered below
			insert = append(insert, i)
		}
	}
	inserted := map[[2]string]bool{}
	for chunk := range slices.Chunk(insert, insertChunk) {
		q, args := valuesInsert(`INSERT INTO events (tenant_id, id, type, data, hash, trace_id, source, created_at)`, 8, len(chunk))
		for _, i := range chunk {
			ev := &evs[i].ev
			args = append(args, ev.TenantID, ev.ID, ev.Type, []byte(ev.Data), ev.Hash, ev.TraceID, ev.Source, ev.CreatedAt)
		}
		if !exact {
			if err := s.db.Defer(ctx, tx, q, args...); err != nil {
				return nil, nil, s.Err(err, "insert events")
			}
			for _, i := range chunk {
				inserted[[2]string{evs[i].ev.TenantID, evs[i].ev.ID}] = true
			}
			continue
		}
		rows, err := tx.Query(ctx, q+` ON CONFLICT (tenant_id, id) DO NOTHING RETURNING tenant_id, id`, args...)
		keys, err := Collect(rows, err, func(r Row) ([2]string, error) {
			var k [2]string
			return k, r.Scan(&k[0], &k[1])
		})
		if err != nil {
			return nil, nil, s.Err(err, "insert events")
		}
		for _, k := range keys {
			inserted[k] = true
		}
	}

	byTenant := owners.endpoints
	var dels []*store.Delivery
	var cands []handCandidate // new deliveries a hand-off may lease
	for i := range evs {
		pe := &evs[i]
		ev := &pe.ev
		if out[i].Err != nil {
			continue
		}
		key := [2]string{ev.TenantID, ev.ID}
		if first[key] != i {
			continue // a repeat within this batch: answered below
		}
		if !inserted[key] {
			// A re-post of an event stored before.
			res, err := s.existingEvent(ctx, tx, ev)
			if err != nil && !errors.Is(err, store.ErrConflict) {
				return nil, nil, err
			}
			out[i] = store.EventCreateOutcome{Result: res, Err: wrapEventErr(ev.ID, err)}
			continue
		}
		var targets, off []string     // off: matching endpoints that are disabled
		var matched []*store.Endpoint // the endpoints of targets, matched by filter
		if pe.p.EndpointIDs != nil {
			targets, err = s.eventTargets(ctx, tx, ev, pe.p.EndpointIDs)
			if errors.Is(err, store.ErrNotFound) {
				// Nothing of this event may be kept: its row goes again.
				if _, derr := tx.Exec(ctx, `DELETE FROM events WHERE tenant_id = $1 AND id = $2`, ev.TenantID, ev.ID); derr != nil {
					return nil, nil, s.Err(derr, "undo event %q", ev.ID)
				}
				out[i].Err = wrapEventErr(ev.ID, err)
				continue
			}
			if err != nil {
				return nil, nil, err
			}
		} else {
			for _, ep := range byTenant[ev.TenantID] {
				switch {
				case !store.MatchEventType(ep.Events, ev.Type):
				case ep.Enabled:
					targets, matched = append(targets, ep.ID), append(matched, ep)
				case ev.Source != store.SourceFailure:
					// Disabled: recorded as failed, never attempted, so a
					// replay after re-enabling it sends the event.
					off = append(off, ep.ID)
				}
			}
			if pe.p.SkipFailing && len(targets) > 0 {
				if targets, matched, err = s.skipFailing(ctx, tx, targets, matched); err != nil {
					return nil, nil, err
				}
			}
		}
		ds, due := pe.p.NewDeliveries(ev, targets, pe.now)
		for k, d := range ds {
			// Where the delivery is due: pending at its creation, or, leased
			// to its creator, when that lease runs out.
			d.NextAttemptAt = &due
			if matched != nil && pe.p.LeaseOwner == "" {
				cands = append(cands, handCandidate{d: d, ev: ev, ep: matched[k]})
			}
		}
		dels = append(dels, ds...)
		if len(off) > 0 {
			failed := store.DisabledDeliveries(ev, off, pe.now)
			dels = append(dels, failed...)
			ds = append(ds, failed...)
			slices.SortFunc(ds, func(a, b *store.Delivery) int { return strings.Compare(a.EndpointID, b.EndpointID) })
		}
		out[i].Result = &store.EventCreateResult{Event: ev, Created: true, Deliveries: ds}
	}
	handed, err := s.handOff(ctx, tx, h, cands)
	if err != nil {
		return nil, nil, err
	}
	if err := s.insertDeliveries(ctx, tx, evs, dels, h); err != nil {
		return nil, nil, err
	}
	// A repeat within the batch is a re-post of its first: the same event
	// and deliveries if the content is the same, a conflict if not.
	for i := range evs {
		ev := &evs[i].ev
		f, ok := first[[2]string{ev.TenantID, ev.ID}]
		if !ok || f == i || out[i].Err != nil {
			continue
		}
		switch prev := out[f]; {
		case prev.Err != nil:
			out[i].Err = prev.Err
		case prev.Result.Event.Hash != ev.Hash:
			out[i].Err = wrapEventErr(ev.ID, fmt.Errorf("event id %q was used with different content: %w", ev.ID, store.ErrConflict))
		default:
			out[i].Result = &store.EventCreateResult{Event: prev.Result.Event, Created: false, Deliveries: prev.Result.Deliveries}
		}
	}
	// What callers see of a delivery in flight: no next attempt.
	waiting := 0
	for _, d := range dels {
		switch d.Status {
		case store.StatusDelivering:
			d.NextAttemptAt = nil
		case store.StatusPending:
			waiting++
		}
	}
	// Wake the claimers only for deliveries left for a claim: one handed
	// off or leased to its creator has nothing for them, and on PostgreSQL
	// every wake-up was a claim that found nothing, taking its turn with
	// the hand-offs of the next ingests.
	if h != nil {
		waiting -= h.Held // the owner claims them itself, unwoken
	}
	if waiting > 0 {
		if err := s.db.Notify(ctx, tx); err != nil {
			return nil, nil, err
		}
	}
	return out, handed, nil
}

// insertDeliveries writes new deliveries with multi-row INSERTs.
func (s *Store) insertDeliveries(ctx context.Context, tx Querier, evs []pendingEvent, dels []*store.Delivery, h *store.HandOff) error {
	lease := map[[2]string]*store.EventCreateParams{}
	for i := range evs {
		if evs[i].p.LeaseOwner != "" {
			lease[[2]string{evs[i].ev.TenantID, evs[i].ev.ID}] = evs[i].p
		}
	}
	for chunk := range slices.Chunk(dels, insertChunk) {
		q, args := valuesInsert(`INSERT INTO deliveries (id, tenant_id, event_id, event_type, endpoint_id, status,
			next_attempt_at, lease_owner, lease_expires_at, created_at, updated_at, last_error)`, 12, len(chunk))
		for _, d := range chunk {
			var owner *string
			var until *time.Time
			if p := lease[[2]string{d.TenantID, d.EventID}]; p != nil {
				owner, until = &p.LeaseOwner, d.NextAttemptAt
			} else if d.Status == store.StatusDelivering {
				owner, until = &h.Owner, d.NextAttemptAt // handed off
			}
			args = append(args, d.ID, d.TenantID, d.EventID, d.EventType, d.EndpointID, d.Status,
				d.NextAttemptAt, owner, until, d.CreatedAt, d.UpdatedAt, d.LastError)
		}
		// Nothing of it is read back: on PostgreSQL it goes out with the
		// COMMIT, one round trip fewer, the last of those the claims'
		// lock is held for when the batch hands deliveries off.
		if err := s.db.Defer(ctx, tx, q, args...); err != nil {
			return s.Err(err, "insert deliveries")
		}
	}
	return nil
}

// valuesInsert is insert followed by a VALUES list of rows rows of cols
// placeholders each, numbered from $1, and an empty argument list to fill.
func valuesInsert(insert string, cols, rows int) (string, []any) {
	var b strings.Builder
	b.Grow(len(insert) + rows*cols*5)
	b.WriteString(insert)
	b.WriteString(" VALUES ")
	n := 0
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range cols {
			if c > 0 {
				b.WriteString(", ")
			}
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		}
		b.WriteByte(')')
	}
	return b.String(), make([]any, 0, rows*cols)
}

func wrapEventErr(eventID string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("create event %q: %w", eventID, err)
}

func scanString(r Row) (string, error) {
	var v string
	return v, r.Scan(&v)
}

// tenantEndpoints is the statement that reads the live endpoints of the
// tenants once for a whole batch, whole, as a hand-off gives them to the
// dispatcher, into out by tenant: the enabled ones get deliveries to
// send, the disabled ones failed deliveries. Filters are matched in Go
// (store.MatchEventType). The rows are key-share locked (PostgreSQL) so
// a concurrent EndpointDelete waits for this batch instead of failing its
// inserts. A deleted endpoint is not here: it gets no delivery at all,
// not even a failed one.
func (s *Store) tenantEndpoints(tenantIDs []string, out map[string][]*store.Endpoint) Stmt {
	return Stmt{
		SQL: `SELECT ` + EndpointCols + ` FROM endpoints ep WHERE ` + s.db.InList("ep.tenant_id", 1) + ` AND ` + EndpointLive + `
		ORDER BY ep.tenant_id, ep.id` + s.db.LockClause(LockKeyShare),
		Args: []any{tenantIDs},
		Scan: func(r Row) error {
			ep, err := s.scanEndpoint(r)
			if err != nil {
				return err
			}
			out[ep.TenantID] = append(out[ep.TenantID], ep)
			return nil
		},
	}
}

// failingChunk is how many endpoints one look-up of failing endpoints
// asks about: one LIMITed subquery, and one argument, each.
const failingChunk = 100

// skipFailing leaves out of targets (and matched, its endpoints, in the
// same order) the endpoints that are failing (store.Failing). It reads
// each endpoint's newest store.FailingLookback deliveries and no more: one
// subquery per endpoint, each a LIMITed scan of the endpoint's deliveries
// newest first (the index deliveries_list_endpoint), joined by UNION ALL,
// so an endpoint's history, however long, is never read whole.
func (s *Store) skipFailing(ctx context.Context, tx Querier, targets []string, matched []*store.Endpoint) ([]string, []*store.Endpoint, error) {
	type recent struct {
		endpointID, id string
		created        time.Time
		outcome        store.LastOutcome
	}
	byEndpoint := map[string][]recent{}
	for chunk := range slices.Chunk(targets, failingChunk) {
		var q strings.Builder
		args := make([]any, 0, len(chunk))
		for i, epID := range chunk {
			if i > 0 {
				q.WriteString(" UNION ALL ")
			}
			fmt.Fprintf(&q, `SELECT * FROM (SELECT endpoint_id, id, created_at, attempts, last_status_code FROM deliveries
				WHERE endpoint_id = $%d ORDER BY created_at DESC, id DESC LIMIT %d) AS r%d`, i+1, store.FailingLookback, i)
			args = append(args, epID)
		}
		rows, err := tx.Query(ctx, q.String(), args...)
		got, err := Collect(rows, err, func(r Row) (recent, error) {
			var v recent
			var attempts, code int
			err := r.Scan(&v.endpointID, &v.id, &v.created, &attempts, &code)
			v.outcome = store.LastOutcomeOf(attempts, code)
			return v, err
		})
		if err != nil {
			return nil, nil, s.Err(err, "find failing endpoints")
		}
		for _, v := range got {
			byEndpoint[v.endpointID] = append(byEndpoint[v.endpointID], v)
		}
	}
	var keptIDs []string
	var kept []*store.Endpoint
	for i, epID := range targets {
		rs := byEndpoint[epID]
		// UNION ALL keeps no order: newest first again.
		slices.SortFunc(rs, func(a, b recent) int {
			if c := b.created.Compare(a.created); c != 0 {
				return c
			}
			return strings.Compare(b.id, a.id)
		})
		outcomes := make([]store.LastOutcome, len(rs))
		for k, r := range rs {
			outcomes[k] = r.outcome
		}
		if !store.Failing(outcomes) {
			keptIDs, kept = append(keptIDs, epID), append(kept, matched[i])
		}
	}
	return keptIDs, kept, nil
}

// handCandidate is a new delivery a hand-off may lease, with what a
// dispatcher needs to send it.
type handCandidate struct {
	d  *store.Delivery
	ev *store.Event
	ep *store.Endpoint
}

// handOff leases up to h.Limit of the candidates to h.Owner, oldest event
// first, each endpoint and tenant held to the room its cap leaves, and returns them
// as claimed. It runs in its turn with the claims, so the leases it counts
// are exact across nodes.
func (s *Store) handOff(ctx context.Context, tx Querier, h *store.HandOff, cands []handCandidate) ([]*store.Claimed, error) {
	if h == nil || h.Limit <= 0 || len(cands) == 0 {
		return nil, nil
	}
	if noRoom(h, cands) {
		h.Held = len(cands)
		return nil, nil
	}
	if err := s.db.LockClaims(ctx, tx); err != nil {
		return nil, s.Err(err, "hand off deliveries")
	}
	h.Held = 0 // run again after a deadlock, the transaction counts afresh
	now := s.Now()
	ids := make([]string, 0, len(cands))
	for _, c := range cands {
		ids = append(ids, c.ep.ID)
	}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	tenants := []string{}
	if h.PerTenant > 0 {
		for _, c := range cands {
			tenants = append(tenants, c.ep.TenantID)
		}
		tenants = slices.Compact(slices.Sorted(slices.Values(tenants)))
	}
	// The leases' count is the one look-up planned for its arguments:
	// planned once for any, it read the leases through every unfinished
	// delivery's index entry, 3.3 ms a batch beside a backlog of 100,000
	// against 0.2 (docs/design.md). The SET goes out with the lock.
	if err := s.db.GenericPlans(ctx, tx, false); err != nil {
		return nil, s.Err(err, "hand off deliveries")
	}
	l, err := s.leases(ctx, tx, now, ids, tenants, h)
	if err != nil {
		return nil, err
	}
	leased, othersLeased, tenantLeased := l.endpoint, l.endpointOthers, l.tenant
	eager := map[string]bool{}
	for _, id := range h.Eager {
		eager[id] = true
	}
	until := store.Timestamp(h.Until)
	var out []*store.Claimed
	chosen := map[*store.Claimed]*store.Delivery{} // the stored delivery of each
	for _, c := range cands {
		if len(out) == h.Limit {
			break
		}
		if leased[c.ep.ID] >= store.LeaseCap(c.ep.InFlightCap(h.PerEndpoint), h.OwnFactor, eager[c.ep.ID], othersLeased[c.ep.ID] > 0, tenantLeased[c.ep.TenantID], h.PerTenant) {
			if othersLeased[c.ep.ID] == 0 {
				h.Held++ // the owner's own attempts will make room for it
			}
			continue
		}
		if tenantLeased[c.ep.TenantID] >= store.TenantCap(h.PerTenant) {
			continue
		}
		leased[c.ep.ID]++
		tenantLeased[c.ep.TenantID]++
		d := *c.d
		d.Status, d.NextAttemptAt = store.StatusDelivering, nil
		cl := &store.Claimed{Delivery: &d, Event: c.ev, Endpoint: c.ep, LeaseUntil: until}
		chosen[cl] = c.d
		out = append(out, cl)
	}
	// Rate-limited endpoints' turns, as a claim gives them: one whose turn
	// is beyond the horizon stays pending, due at its turn.
	out, later, err := s.takeTurns(ctx, tx, now, out)
	if err != nil {
		return nil, err
	}
	for cl, d := range chosen {
		if at, ok := later[cl.Delivery.ID]; ok {
			d.NextAttemptAt = &at
			continue
		}
		d.Status, d.NextAttemptAt = store.StatusDelivering, &until
	}
	return out, nil
}

// noRoom reports whether every candidate's endpoint is full of the
// owner's own active leases (store.HandOff.Active): the most LeaseCap
// could give it, so counting the leases under the claim lock would find
// no room either.
func noRoom(h *store.HandOff, cands []handCandidate) bool {
	if h.Active == nil {
		return false
	}
	for _, c := range cands {
		if h.Active[c.ep.ID] < c.ep.InFlightCap(h.PerEndpoint)*max(h.OwnFactor, 1) {
			return false
		}
	}
	return true
}

// heldLeases are the unexpired leases of a hand-off's endpoints and
// tenants, but for its own settling deliveries (HandOff.Settling); of the
// endpoints', those other owners than the hand-off's hold.
type heldLeases struct {
	endpoint, endpointOthers, tenant map[string]int
}

// leases counts them in one statement, under the claim lock: one round
// trip fewer while the lock is held than a statement for each.
func (s *Store) leases(ctx context.Context, tx Querier, now time.Time, endpoints, tenants []string, h *store.HandOff) (heldLeases, error) {
	const leased = `FROM deliveries WHERE status = 'delivering' AND lease_expires_at > $1
			AND NOT (lease_owner = $3 AND `
	rows, err := tx.Query(ctx, `
		SELECT 0, endpoint_id, count(*), sum(CASE WHEN lease_owner = $3 THEN 0 ELSE 1 END) `+leased+s.db.InList("id", 4)+`)
			AND `+s.db.InList("endpoint_id", 2)+` GROUP BY endpoint_id
		UNION ALL
		SELECT 1, tenant_id, count(*), 0 `+leased+s.db.InList("id", 4)+`)
			AND `+s.db.InList("tenant_id", 5)+` GROUP BY tenant_id`,
		now, endpoints, h.Owner, NonNil(h.Settling), tenants)
	type held struct {
		tenant    bool
		key       string
		n, others int
	}
	counts, err := Collect(rows, err, func(r Row) (held, error) {
		var v held
		var kind int
		err := r.Scan(&kind, &v.key, &v.n, &v.others)
		v.tenant = kind == 1
		return v, err
	})
	if err != nil {
		return heldLeases{}, s.Err(err, "hand off deliveries")
	}
	out := heldLeases{endpoint: map[string]int{}, endpointOthers: map[string]int{}, tenant: map[string]int{}}
	for _, c := range counts {
		if c.tenant {
			out.tenant[c.key] = c.n
			continue
		}
		out.endpoint[c.key], out.endpointOthers[c.key] = c.n, c.others
	}
	return out, nil
}

// existingEvent answers a re-post of an event id: the stored event and its
// deliveries when the content is the same, ErrConflict when it is not.
func (s *Store) existingEvent(ctx context.Context, tx Querier, ev *store.Event) (*store.EventCreateResult, error) {
	stored, err := scanEvent(tx.QueryRow(ctx,
		`SELECT `+EventCols+` FROM events ev WHERE ev.tenant_id = $1 AND ev.id = $2`, ev.TenantID, ev.ID))
	if err != nil {
		return nil, s.Err(err, "read the stored event")
	}
	if stored.Hash != ev.Hash {
		return nil, fmt.Errorf("event id %q was used with different content: %w", ev.ID, store.ErrConflict)
	}
	rows, err := tx.Query(ctx, `SELECT `+DeliveryCols+` FROM deliveries d
		WHERE d.tenant_id = $1 AND d.event_id = $2 ORDER BY d.id`, ev.TenantID, ev.ID)
	dels, err := Collect(rows, err, scanDelivery)
	if err != nil {
		return nil, s.Err(err, "read the stored deliveries")
	}
	return &store.EventCreateResult{Event: stored, Created: false, Deliveries: dels}, nil
}

// eventTargets checks that the endpoints a test send names are the
// tenant's live ones, and returns them sorted, once each. On PostgreSQL they are
// key-share locked so a concurrent EndpointDelete waits for this event
// instead of failing its insert.
func (s *Store) eventTargets(ctx context.Context, tx Querier, ev *store.Event, endpointIDs []string) ([]string, error) {
	want := slices.Compact(slices.Sorted(slices.Values(endpointIDs)))
	rows, err := tx.Query(ctx, `SELECT ep.id FROM endpoints ep WHERE ep.tenant_id = $1 AND `+s.db.InList("ep.id", 2)+` AND `+EndpointLive+`
		ORDER BY ep.id`+s.db.LockClause(LockKeyShare), ev.TenantID, want)
	found, err := Collect(rows, err, scanString)
	if err != nil {
		return nil, s.Err(err, "find endpoints")
	}
	for _, w := range want {
		if _, ok := slices.BinarySearch(found, w); !ok {
			return nil, fmt.Errorf("endpoint %q: %w", w, store.ErrNotFound)
		}
	}
	return found, nil
}

// EventGet loads one of the tenant's events.
func (s *Store) EventGet(ctx context.Context, tenantID, eventID string) (*store.Event, error) {
	return getRow(ctx, s, s.read, scanEvent, fmt.Sprintf("event %q", eventID),
		`SELECT `+EventCols+` FROM events ev WHERE ev.tenant_id = $1 AND ev.id = $2`, tenantID, eventID)
}

// EventList pages through the tenant's events, newest first, optionally of
// one type and created in a window: on events_list, or events_list_type
// with a type, the window a range of the index's created_at.
func (s *Store) EventList(ctx context.Context, tenantID string, p *store.EventListParams) ([]*store.Event, error) {
	q := `SELECT ` + EventCols + ` FROM events ev`
	if !p.Since.IsZero() || !p.Until.IsZero() {
		// See DeliveryList.
		if p.Type != "" {
			q += s.db.IndexHint("events_list_type")
		} else {
			q += s.db.IndexHint("events_list")
		}
	}
	q += ` WHERE tenant_id = $1`
	args := []any{tenantID}
	if p.Type != "" {
		args = append(args, p.Type)
		q += fmt.Sprintf(" AND type = $%d", len(args))
	}
	q, args = createdWithin(q, args, p.Since, p.Until)
	return pageRows(ctx, s, scanEvent, "events", &p.ListParams, "id", q, args...)
}

// createdWithin adds the conditions created_at >= since and created_at <
// until to a query whose WHERE clause is open, for the bounds that are not
// zero.
func createdWithin(q string, args []any, since, until time.Time) (string, []any) {
	if !since.IsZero() {
		args = append(args, store.Timestamp(since))
		q += fmt.Sprintf(" AND created_at >= $%d", len(args))
	}
	if !until.IsZero() {
		args = append(args, store.Timestamp(until))
		q += fmt.Sprintf(" AND created_at < $%d", len(args))
	}
	return q, args
}
