package event

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

// gatedStore is a real store whose batch writes can be held at a gate and
// made to fail, and which records the size of every batch.
type gatedStore struct {
	store.Store
	mu      sync.Mutex
	batches []int
	gate    chan struct{} // the first batch waits here until closed
	fail    error         // EventCreateMany of more than one event fails with it
}

func (g *gatedStore) EventCreateMany(ctx context.Context, ps []*store.EventCreateParams, h *store.HandOff) ([]store.EventCreateOutcome, []*store.Claimed, error) {
	g.mu.Lock()
	g.batches = append(g.batches, len(ps))
	first, fail := len(g.batches) == 1, g.fail
	g.mu.Unlock()
	if first && g.gate != nil {
		<-g.gate
	}
	if fail != nil && len(ps) > 1 {
		return nil, nil, fail
	}
	return g.Store.EventCreateMany(ctx, ps, h)
}

func (g *gatedStore) sizes() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]int(nil), g.batches...)
}

type commitBundle struct {
	st *gatedStore
	c  *committer
}

func setupCommit(t *testing.T, st store.Store, maxEvents int) *commitBundle {
	t.Helper()
	ctx := context.Background()
	if _, err := st.TenantCreate(ctx, &store.Tenant{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.EndpointCreate(ctx, &store.Endpoint{TenantID: "acme", URL: "https://example.com", Events: []string{"*"}, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	g := &gatedStore{Store: st}
	return &commitBundle{st: g, c: newCommitter(g, maxEvents, 0, nil)}
}

func params(id, data string) *store.EventCreateParams {
	return &store.EventCreateParams{Event: &store.Event{
		TenantID: "acme", ID: id, Type: "user.created", Data: []byte(data), Hash: "h:" + data,
		TraceID: "0123456789abcdef0123456789abcdef", Source: store.SourceAPI,
	}}
}

// queued waits until n requests wait behind the running commit.
func (b *commitBundle) queued(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b.c.mu.Lock()
		got := len(b.c.queue)
		b.c.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d requests queued, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

type answer struct {
	res *store.EventCreateResult
	err error
}

// Requests that arrive while a commit runs all go into the next one, and
// each is answered with its own outcome: a conflict fails that request
// alone.
func TestCommitter_WhatArrivesDuringACommitGoesIntoTheNext(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		b := setupCommit(t, st, 0)
		ctx := context.Background()
		if _, err := b.c.create(ctx, params("taken", `{"v":1}`)); err != nil {
			t.Fatal(err)
		}
		b.st.mu.Lock()
		b.st.batches, b.st.gate = nil, make(chan struct{})
		b.st.mu.Unlock()

		first := make(chan answer, 1)
		go func() { r, err := b.c.create(ctx, params("e0", `{}`)); first <- answer{r, err} }()
		waitBatches(t, b.st, 1) // the first commit runs, held at the gate
		const n = 20
		answers := make([]chan answer, n)
		for i := range n {
			answers[i] = make(chan answer, 1)
			p := params(fmt.Sprintf("e%d", i+1), `{}`)
			if i == 7 {
				p = params("taken", `{"v":2}`) // the id is taken with other content
			}
			go func() { r, err := b.c.create(ctx, p); answers[i] <- answer{r, err} }()
		}
		b.queued(t, n)
		close(b.st.gate)

		if a := <-first; a.err != nil || !a.res.Created {
			t.Fatalf("first request: %+v", a)
		}
		for i, ch := range answers {
			a := <-ch
			switch {
			case i == 7:
				if !errors.Is(a.err, herald.ErrConflict) {
					t.Errorf("request %d (id taken): err %v, want ErrConflict", i, a.err)
				}
			case a.err != nil || !a.res.Created || len(a.res.Deliveries) != 1:
				t.Errorf("request %d: %+v, want created with one delivery", i, a)
			}
		}
		if got := b.st.sizes(); len(got) != 2 || got[0] != 1 || got[1] != n {
			t.Fatalf("batches %v, want [1 %d]: the lone first, then everything that queued behind it", got, n)
		}
		if ds, err := st.DeliveryList(ctx, "acme", &store.DeliveryListParams{ListParams: store.ListParams{Limit: 100}}); err != nil || len(ds) != n+1 {
			t.Fatalf("%d deliveries stored (%v), want %d", len(ds), err, n+1)
		}
	})
}

func waitBatches(t *testing.T, g *gatedStore, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(g.sizes()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d batches written, want %d", len(g.sizes()), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// A batch never takes more than its bound; the rest waits for the next.
func TestCommitter_BatchesAreBounded(t *testing.T) {
	t.Parallel()
	b := setupCommit(t, dbtest.SQLite(t), 3)
	b.st.gate = make(chan struct{})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	wg.Add(1)
	go func() { defer wg.Done(); _, err := b.c.create(ctx, params("a", `{}`)); errs <- err }()
	waitBatches(t, b.st, 1)
	for i := range 7 {
		wg.Add(1)
		go func() { defer wg.Done(); _, err := b.c.create(ctx, params(fmt.Sprint(i), `{}`)); errs <- err }()
	}
	b.queued(t, 7)
	close(b.st.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := b.st.sizes(); fmt.Sprint(got) != "[1 3 3 1]" {
		t.Fatalf("batches %v, want [1 3 3 1]", got)
	}
}

// A batch whose transaction fails is written event by event, so an event
// no transaction can take fails alone; a database that is away fails them
// all, with the error that says so (a 503).
func TestCommitter_AFailedBatchIsRetriedEventByEvent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		fail     error
		wantEach error
	}{
		{"statement failed", errors.New("some statement failed"), nil},
		{"database away", fmt.Errorf("create 2 events: %w", herald.ErrUnavailable), herald.ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupCommit(t, dbtest.SQLite(t), 0)
			b.st.gate, b.st.fail = make(chan struct{}), tc.fail
			ctx := context.Background()
			res := make(chan error, 3)
			go func() { _, err := b.c.create(ctx, params("x", `{}`)); res <- err }()
			waitBatches(t, b.st, 1)
			for _, id := range []string{"y", "z"} {
				go func() { _, err := b.c.create(ctx, params(id, `{}`)); res <- err }()
			}
			b.queued(t, 2)
			close(b.st.gate)
			for range 3 {
				if err := <-res; tc.wantEach == nil && err != nil || tc.wantEach != nil && !errors.Is(err, tc.wantEach) && err != nil {
					t.Errorf("answer %v, want %v", err, tc.wantEach)
				}
			}
			_, err := b.st.EventGet(ctx, "acme", "y")
			if tc.wantEach == nil && err != nil {
				t.Errorf("event y after the event-by-event retry: %v, want stored", err)
			}
			if tc.wantEach != nil && !errors.Is(err, herald.ErrNotFound) {
				t.Errorf("event y with the database away: %v, want not stored", err)
			}
		})
	}
}

// recordingDispatcher has room for n deliveries and keeps what it is handed.
type recordingDispatcher struct {
	mu     sync.Mutex
	n      int
	handed []*store.Claimed
}

func (d *recordingDispatcher) HandOffRoom() store.HandOff {
	return store.HandOff{Owner: "node-1", Until: time.Now().Add(time.Minute), Limit: d.n, PerEndpoint: 8}
}

func (d *recordingDispatcher) HandOff(cs []*store.Claimed, _ bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.handed = append(d.handed, cs...)
}

// A committed batch hands the dispatcher what it had room for, leased to
// it; what did not fit waits for the claim.
func TestCommitter_HandsNewDeliveriesToTheDispatcher(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		b := setupCommit(t, st, 0)
		d := &recordingDispatcher{n: 1}
		b.c.dispatcher = d
		ctx := context.Background()
		first, err := b.c.create(ctx, params("h1", `{}`))
		if err != nil {
			t.Fatal(err)
		}
		second, err := b.c.create(ctx, params("h2", `{"n":2}`))
		if err != nil {
			t.Fatal(err)
		}
		if len(d.handed) != 2 || d.handed[0].Delivery.ID != first.Deliveries[0].ID {
			t.Fatalf("handed %d deliveries, want each request's one", len(d.handed))
		}
		if first.Deliveries[0].Status != store.StatusDelivering || second.Deliveries[0].Status != store.StatusDelivering {
			t.Errorf("answered statuses %s, %s; want delivering (handed off)", first.Deliveries[0].Status, second.Deliveries[0].Status)
		}
		d.n = 0
		third, err := b.c.create(ctx, params("h3", `{"n":3}`))
		if err != nil || third.Deliveries[0].Status != store.StatusPending || len(d.handed) != 2 {
			t.Fatalf("with no room: %+v, %v, %d handed; want pending and nothing more handed", third, err, len(d.handed))
		}
	})
}

// With two writers, a batch held in its commit does not hold up the
// next request: it commits beside it, through the other committer.
// setupTwoWriters is two committers side by side on st, the first batch
// held at the gate until the test closes it.
func setupTwoWriters(t *testing.T, st store.Store) (*commitBundle, *groupCommit) {
	t.Helper()
	b := setupCommit(t, st, 0)
	b.st.gate = make(chan struct{})
	return b, newGroupCommit(b.st, 2, 0, 0, nil)
}

func TestGroupCommit_TwoWritersCommitSideBySide(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		b, g := setupTwoWriters(t, st)
		ctx := context.Background()

		held := make(chan answer, 1)
		go func() { r, err := g.create(ctx, params("e-held", `{}`)); held <- answer{r, err} }()
		waitBatches(t, b.st, 1) // the first commit runs, held at the gate
		if r, err := g.create(ctx, params("e-beside", `{}`)); err != nil || !r.Created {
			t.Fatalf("a request while the other writer's batch is held: %+v, %v; want created", r, err)
		}
		select {
		case a := <-held:
			t.Fatalf("the held batch answered before its gate opened: %+v", a)
		default:
		}
		close(b.st.gate)
		if a := <-held; a.err != nil || !a.res.Created {
			t.Fatalf("the held request: %+v", a)
		}
		if got := b.st.sizes(); len(got) != 2 || got[0] != 1 || got[1] != 1 {
			t.Errorf("batches %v, want two of one", got)
		}
	})
}

// A request goes to a writer that is not committing while there is one:
// with one writer's batch held, every request commits on the other
// instead of queueing behind it when its turn would have been the held
// one's.
func TestGroupCommit_RequestsGoToAnIdleWriter(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		b, g := setupTwoWriters(t, st)
		ctx := context.Background()
		held := make(chan answer, 1)
		go func() { r, err := g.create(ctx, params("e-held", `{}`)); held <- answer{r, err} }()
		waitBatches(t, b.st, 1)
		for i := range 4 {
			done := make(chan answer, 1)
			go func() { r, err := g.create(ctx, params(fmt.Sprintf("e-%d", i), `{}`)); done <- answer{r, err} }()
			select {
			case a := <-done:
				if a.err != nil || !a.res.Created {
					t.Fatalf("request %d: %+v", i, a)
				}
			case <-time.After(10 * time.Second):
				close(b.st.gate)
				t.Fatalf("request %d queued behind the held batch with the other writer idle", i)
			}
		}
		close(b.st.gate)
		if a := <-held; a.err != nil || !a.res.Created {
			t.Fatalf("the held request: %+v", a)
		}
	})
}

// One writer is group commit as committer does it: a request waits for
// the batch before its own.
func TestGroupCommit_OneWriterIsOneCommitter(t *testing.T) {
	t.Parallel()
	g := newGroupCommit(nil, 0, 0, 0, nil)
	if len(g.shards) != 1 {
		t.Fatalf("writers 0 made %d committers, want 1", len(g.shards))
	}
}
