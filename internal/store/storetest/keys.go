package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// testKeyList: a tenant's keys, and the admin keys, each apart, newest
// first, by pages, never with another tenant's.
func testKeyList(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	mkTenant(t, st, "globex")
	var acme, admins []string
	for i := range 5 {
		at := t0.Add(time.Duration(i) * time.Second)
		k := do(st.KeyCreate(ctx, &store.Key{TenantID: "acme", Name: fmt.Sprint("a", i), Hash: fmt.Sprint("h-acme-", i), CreatedAt: at})).must(t)
		acme = append([]string{k.ID}, acme...)
		do(st.KeyCreate(ctx, &store.Key{TenantID: "globex", Name: "g", Hash: fmt.Sprint("h-globex-", i), CreatedAt: at})).must(t)
		if i < 3 {
			k := do(st.KeyCreate(ctx, &store.Key{Name: fmt.Sprint("root", i), Hash: fmt.Sprint("h-admin-", i), CreatedAt: at})).must(t)
			admins = append([]string{k.ID}, admins...)
		}
	}
	keyID := func(k *store.Key) string { return k.ID }
	got, pages := walk(t, 2, func(cursor string) ([]*store.Key, error) {
		return st.KeyList(ctx, "acme", &store.ListParams{Limit: 2, Cursor: cursor})
	})
	wantIDs(t, "acme's keys by pages of 2", ids(got, keyID), acme)
	if pages != 3 {
		t.Errorf("5 keys by pages of 2 took %d pages, want 3", pages)
	}
	for _, k := range got {
		if k.TenantID != "acme" || k.LastUsedAt != nil || k.Hash == "" {
			t.Errorf("listed key %+v, want acme's, never used, with its hash", k)
		}
	}
	got, _ = walk(t, 2, func(cursor string) ([]*store.Key, error) {
		return st.KeyList(ctx, "", &store.ListParams{Limit: 2, Cursor: cursor})
	})
	wantIDs(t, "the admin keys", ids(got, keyID), admins)
	if none := do(st.KeyList(ctx, "initech", &store.ListParams{})).must(t); len(none) != 0 {
		t.Errorf("keys of a tenant with none = %d", len(none))
	}
}

// testKeyDelete: a key goes only from its own tenant (or, for an admin
// key, from the admin keys), with its idempotency records, and the last
// admin key stays.
func testKeyDelete(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	mkTenant(t, st, "globex")
	tk := do(st.KeyCreate(ctx, &store.Key{TenantID: "acme", Name: "ci", Hash: "h-acme"})).must(t)
	other := do(st.KeyCreate(ctx, &store.Key{TenantID: "acme", Name: "other", Hash: "h-acme-2"})).must(t)
	a1 := do(st.KeyCreate(ctx, &store.Key{Name: "root", Hash: "h-admin-1"})).must(t)
	a2 := do(st.KeyCreate(ctx, &store.Key{Name: "root 2", Hash: "h-admin-2"})).must(t)
	for _, k := range []*store.Key{tk, other} {
		if err := st.IdempotencyPut(ctx, &store.IdempotencyRecord{Scope: k.ID, TenantID: "acme", Key: "k1", RequestHash: "h", Status: 201, Body: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
	}

	wantErr(t, st.KeyDelete(ctx, "globex", tk.ID), store.ErrNotFound, "KeyDelete of acme's key as globex's")
	wantErr(t, st.KeyDelete(ctx, "", tk.ID), store.ErrNotFound, "KeyDelete of a tenant key as an admin key")
	wantErr(t, st.KeyDelete(ctx, "acme", a1.ID), store.ErrNotFound, "KeyDelete of an admin key as acme's")
	wantErr(t, st.KeyDelete(ctx, "acme", "key_none"), store.ErrNotFound, "KeyDelete of no key")
	do(st.KeyGetByHash(ctx, "h-acme")).must(t)

	if err := st.KeyDelete(ctx, "acme", tk.ID); err != nil {
		t.Fatalf("KeyDelete of acme's key: %v", err)
	}
	_, err := st.KeyGetByHash(ctx, "h-acme")
	wantErr(t, err, store.ErrNotFound, "KeyGetByHash of a deleted key")
	wantErr(t, st.KeyDelete(ctx, "acme", tk.ID), store.ErrNotFound, "KeyDelete of a deleted key")
	_, err = st.IdempotencyGet(ctx, tk.ID, "k1")
	wantErr(t, err, store.ErrNotFound, "the deleted key's idempotency record")
	do(st.IdempotencyGet(ctx, other.ID, "k1")).must(t)
	do(st.KeyGetByHash(ctx, "h-acme-2")).must(t)

	if err := st.KeyDelete(ctx, "", a1.ID); err != nil {
		t.Fatalf("KeyDelete of one of two admin keys: %v", err)
	}
	wantErr(t, st.KeyDelete(ctx, "", a2.ID), store.ErrConflict, "KeyDelete of the last admin key")
	do(st.KeyGetByHash(ctx, "h-admin-2")).must(t)
	if ok := do(st.KeyAdminExists(ctx)).must(t); !ok {
		t.Fatal("no admin key left")
	}
	// A tenant's last key is no admin key: it may go.
	if err := st.KeyDelete(ctx, "acme", other.ID); err != nil {
		t.Fatalf("KeyDelete of acme's last key: %v", err)
	}
}

// testKeyTouch: the last use is written when it is unset or older than
// the caller allows, and kept otherwise.
func testKeyTouch(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	k := do(st.KeyCreate(ctx, &store.Key{Name: "root", Hash: "h-admin"})).must(t)
	lastUsed := func() *time.Time {
		t.Helper()
		return do(st.KeyGetByHash(ctx, "h-admin")).must(t).LastUsedAt
	}
	if err := st.KeyTouch(ctx, k.ID, t0, t0.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	sameTimePtr(t, "LastUsedAt after the first touch", lastUsed(), ptr(us(t0)))
	// Thirty seconds on, with a minute's grace: t0 is recent enough.
	if err := st.KeyTouch(ctx, k.ID, t0.Add(30*time.Second), t0.Add(-30*time.Second)); err != nil {
		t.Fatal(err)
	}
	sameTimePtr(t, "LastUsedAt after a touch within the minute", lastUsed(), ptr(us(t0)))
	later := t0.Add(61 * time.Second)
	if err := st.KeyTouch(ctx, k.ID, later, later.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	sameTimePtr(t, "LastUsedAt after a touch a minute on", lastUsed(), ptr(us(later)))
	if list := do(st.KeyList(ctx, "", &store.ListParams{})).must(t); len(list) != 1 {
		t.Fatalf("admin keys = %d, want 1", len(list))
	} else {
		sameTimePtr(t, "listed LastUsedAt", list[0].LastUsedAt, ptr(us(later)))
	}
	if err := st.KeyTouch(ctx, "key_none", later, later); err != nil {
		t.Errorf("KeyTouch of a missing key: %v, want no error", err)
	}
}

// testKeyDeleteLastAdminRace: two nodes deleting the last two admin keys
// at once leave one: exactly one delete is refused, every round.
func testKeyDeleteLastAdminRace(t *testing.T, open func(t *testing.T, n int, migrate bool) []store.Store) {
	nodes := open(t, 2, true)
	ctx := ctxT(t)
	var survivor *store.Key
	for round := range 10 {
		var keys []*store.Key
		if survivor != nil {
			keys = append(keys, survivor)
		}
		for i := len(keys); i < 2; i++ {
			keys = append(keys, do(nodes[0].KeyCreate(ctx, &store.Key{Name: "racer", Hash: fmt.Sprintf("h-%d-%d", round, i)})).must(t))
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		start := make(chan struct{})
		for i, k := range keys {
			wg.Go(func() {
				<-start
				errs[i] = nodes[i].KeyDelete(ctx, "", k.ID)
			})
		}
		close(start)
		wg.Wait()
		ok, refused := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, store.ErrConflict):
				refused++
			default:
				t.Fatalf("round %d: delete: %v", round, err)
			}
		}
		left := do(nodes[1].KeyList(ctx, "", &store.ListParams{})).must(t)
		if ok != 1 || refused != 1 || len(left) != 1 {
			t.Fatalf("round %d: %d deletes done, %d refused, %d admin keys left; want 1, 1 and 1", round, ok, refused, len(left))
		}
		survivor = left[0]
	}
}

// testKeyDeleteSeenByEveryNode: a key deleted through one node is unknown
// to the next lookup on another at once: no node keeps keys of its own.
func testKeyDeleteSeenByEveryNode(t *testing.T, open func(t *testing.T, n int, migrate bool) []store.Store) {
	nodes := open(t, 2, true)
	ctx := ctxT(t)
	mkTenant(t, nodes[0], "acme")
	k := do(nodes[0].KeyCreate(ctx, &store.Key{TenantID: "acme", Name: "ci", Hash: "h-acme"})).must(t)
	do(nodes[1].KeyGetByHash(ctx, "h-acme")).must(t)
	if err := nodes[0].KeyDelete(ctx, "acme", k.ID); err != nil {
		t.Fatal(err)
	}
	_, err := nodes[1].KeyGetByHash(ctx, "h-acme")
	wantErr(t, err, store.ErrNotFound, "the other node's lookup of a deleted key")
}

// testStats: the unfinished deliveries by status, the next due time of a
// claimable one, and the disabled endpoints.
func testStats(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	empty := do(st.Stats(ctx)).must(t)
	want := map[string]int{store.StatusPending: 0, store.StatusDelivering: 0, store.StatusRetrying: 0}
	if fmt.Sprint(empty.Deliveries) != fmt.Sprint(want) || empty.NextDue != nil || empty.EndpointsDisabled != 0 {
		t.Fatalf("Stats of an empty store = %+v, want zero counts of the three unfinished statuses and no next due", empty)
	}
	mkTenant(t, st, "acme")
	ep := mkEndpoint(t, st, "acme")
	off := mkEndpoint(t, st, "acme", disabled)
	mkEndpoint(t, st, "acme", disabled)
	for i := range 6 {
		mkEvent(t, st, "acme", "user.created", t0.Add(time.Duration(i)*time.Second))
	}
	// The disabled endpoint's delivery, the oldest of all, waits and
	// counts, but is not due.
	do(st.EventCreate(ctx, &store.EventCreateParams{
		Event: newEvent("acme", "", "x", "{}"), EndpointIDs: []string{off.ID}, Now: t0.Add(-time.Second),
	})).must(t)
	// Of the enabled endpoint's six, four are claimed: one delivered, one
	// failed, one retrying and one still leased; two stay pending.
	now := t0.Add(time.Minute)
	cs := claim(t, st, "w", now, 4, 10)
	if len(cs) != 4 {
		t.Fatalf("claimed %d, want 4", len(cs))
	}
	retryAt := t0.Add(time.Hour)
	record(t, st, "w", cs[0].Delivery.ID, store.StatusDelivered, now, nil)
	record(t, st, "w", cs[1].Delivery.ID, store.StatusFailed, now, nil)
	record(t, st, "w", cs[2].Delivery.ID, store.StatusRetrying, now, &retryAt)
	got := do(st.Stats(ctx)).must(t)
	want = map[string]int{store.StatusPending: 2 + 1, store.StatusDelivering: 1, store.StatusRetrying: 1}
	if fmt.Sprint(got.Deliveries) != fmt.Sprint(want) {
		t.Errorf("Stats deliveries = %v, want %v", got.Deliveries, want)
	}
	// The earliest due claimable delivery: the oldest still pending at the
	// enabled endpoint, not the disabled endpoint's.
	sameTimePtr(t, "Stats NextDue", got.NextDue, ptr(us(t0.Add(4*time.Second))))
	if got.EndpointsDisabled != 2 {
		t.Errorf("Stats EndpointsDisabled = %d, want 2", got.EndpointsDisabled)
	}
	off.Enabled = true
	do(st.EndpointUpdate(ctx, off)).must(t)
	ep.Enabled = false
	do(st.EndpointUpdate(ctx, ep)).must(t)
	got = do(st.Stats(ctx)).must(t)
	if got.EndpointsDisabled != 2 {
		t.Errorf("Stats EndpointsDisabled after enabling one and disabling another = %d, want 2", got.EndpointsDisabled)
	}
	sameTimePtr(t, "Stats NextDue once that endpoint is enabled", got.NextDue, ptr(us(t0.Add(-time.Second))))
	// A deleted endpoint is not a disabled one, nor are its deliveries
	// unfinished: the waiting ones failed with it.
	if err := st.EndpointDelete(ctx, "acme", ep.ID); err != nil {
		t.Fatal(err)
	}
	got = do(st.Stats(ctx)).must(t)
	want = map[string]int{store.StatusPending: 1, store.StatusDelivering: 1, store.StatusRetrying: 0}
	if got.EndpointsDisabled != 1 || fmt.Sprint(got.Deliveries) != fmt.Sprint(want) {
		t.Errorf("Stats after deleting a disabled endpoint: %d disabled, deliveries %v; want 1 and %v", got.EndpointsDisabled, got.Deliveries, want)
	}
}
