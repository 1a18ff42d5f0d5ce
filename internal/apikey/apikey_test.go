package apikey_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/apikey"
	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

func TestNewKey(t *testing.T) {
	t.Parallel()
	a, b := apikey.New(), apikey.New()
	if a == b {
		t.Fatalf("two keys are equal: %s", a)
	}
	if !strings.HasPrefix(a, "hk_") || len(a) != len("hk_")+43 {
		t.Fatalf("key %q, want hk_ and 43 base64url characters", a)
	}
	if h := apikey.Hash(a); len(h) != 64 || h == apikey.Hash(b) || h != apikey.Hash(a) {
		t.Fatalf("Hash(%q) = %q, want a stable sha256 hex distinct per key", a, h)
	}
	// Known answer: sha256("abc").
	if got := apikey.Hash("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("Hash(abc) = %s", got)
	}
}

func newService(t *testing.T, st store.Store) (*apikey.Service, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	if _, err := st.TenantCreate(t.Context(), &store.Tenant{ID: "acme", CreatedAt: clk.Now(), UpdatedAt: clk.Now()}); err != nil {
		t.Fatalf("create tenant: %v", err)
	}
	svc := apikey.NewService(&apikey.Config{Store: st, Clock: clk})
	// Last uses being written end before the store closes (cleanups run
	// last first: the store's was registered before).
	t.Cleanup(svc.Wait)
	return svc, clk
}

func TestService_CreateStoresOnlyTheHash(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		svc, clk := newService(t, st)

		k, key, err := svc.Create(t.Context(), &apikey.CreateParams{TenantID: "acme", Name: "ci"})

		if err != nil {
			t.Fatalf("create: %v", err)
		}
		if !strings.HasPrefix(key, "hk_") || k.Hash != apikey.Hash(key) || strings.Contains(k.Hash, key) {
			t.Fatalf("key %q stored as %q, want only its hash", key, k.Hash)
		}
		if k.TenantID != "acme" || k.Name != "ci" || !strings.HasPrefix(k.ID, "key_") || !k.CreatedAt.Equal(clk.Now()) {
			t.Fatalf("stored key %+v, want acme's key ci created at %v", k, clk.Now())
		}
		got, err := svc.Authenticate(t.Context(), key)
		if err != nil || got.ID != k.ID {
			t.Fatalf("Authenticate(the new key) = %+v, %v; want key %s", got, err, k.ID)
		}
		var ve *herald.ValidationError
		if _, _, err := svc.Create(t.Context(), &apikey.CreateParams{TenantID: "acme", Name: "a\x00b"}); !errors.As(err, &ve) || ve.Fields[0].Location != "name" {
			t.Fatalf("name with NUL: %v, want a ValidationError at name", err)
		}
	})
}

func TestService_AuthenticateRefusesWhatIsNotAKey(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		svc, _ := newService(t, st)
		for _, key := range []string{"", apikey.New(), "hk_" + strings.Repeat("a", 300)} {
			_, err := svc.Authenticate(t.Context(), key)
			var he *herald.Error
			if !errors.Is(err, herald.ErrUnauthorized) || !errors.As(err, &he) || he.Message != "the API key is not valid" {
				t.Errorf("Authenticate(%.12q...) = %v, want ErrUnauthorized: the API key is not valid", key, err)
			}
		}
	})
}

func TestService_BootstrapMakesTheFirstAdminKeyOnce(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		svc, _ := newService(t, st)
		ctx := t.Context()

		first, err := svc.Bootstrap(ctx, &apikey.BootstrapParams{})
		if err != nil || !strings.HasPrefix(first, "hk_") {
			t.Fatalf("first start: %q, %v; want a new key to print", first, err)
		}
		if k, err := svc.Authenticate(ctx, first); err != nil || k.TenantID != "" {
			t.Fatalf("the first key: %+v, %v; want an admin key", k, err)
		}
		if again, err := svc.Bootstrap(ctx, &apikey.BootstrapParams{}); err != nil || again != "" {
			t.Fatalf("second start: %q, %v; want nothing new", again, err)
		}
		// Dev mode makes a fresh one on every start, to print it.
		dev, err := svc.Bootstrap(ctx, &apikey.BootstrapParams{Dev: true})
		if err != nil || dev == "" || dev == first {
			t.Fatalf("dev start: %q, %v; want a fresh key", dev, err)
		}
	})
}

func TestService_BootstrapStoresTheConfiguredKey(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		svc, _ := newService(t, st)
		ctx := t.Context()
		const configured = "hk_configured_admin_key_0123456789abcdef"

		for i := range 2 {
			shown, err := svc.Bootstrap(ctx, &apikey.BootstrapParams{Key: configured})
			if err != nil || shown != "" {
				t.Fatalf("start %d: %q, %v; want the configured key stored and nothing shown", i, shown, err)
			}
		}
		if k, err := svc.Authenticate(ctx, configured); err != nil || k.TenantID != "" {
			t.Fatalf("the configured key: %+v, %v; want an admin key", k, err)
		}
		if shown, err := svc.Bootstrap(ctx, &apikey.BootstrapParams{Key: configured, Dev: true}); err != nil || shown != configured {
			t.Fatalf("dev start with a configured key: %q, %v; want it shown", shown, err)
		}
	})
}

// touchSpy is a real store that counts the writes of last uses and, when
// hold is set, keeps each one waiting until hold is closed.
type touchSpy struct {
	store.Store
	touches atomic.Int32
	started chan struct{}
	hold    chan struct{}
}

func (s *touchSpy) KeyTouch(ctx context.Context, id string, at, ifBefore time.Time) error {
	s.touches.Add(1)
	if s.hold != nil {
		s.started <- struct{}{}
		<-s.hold
	}
	return s.Store.KeyTouch(ctx, id, at, ifBefore)
}

func lastUsed(t *testing.T, st store.Store, key string) *time.Time {
	t.Helper()
	k, err := st.KeyGetByHash(t.Context(), apikey.Hash(key))
	if err != nil {
		t.Fatal(err)
	}
	return k.LastUsedAt
}

func TestService_AuthenticateRecordsTheLastUseAtMostOnceAMinute(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		spy := &touchSpy{Store: st}
		svc, clk := newService(t, spy)
		_, key, err := svc.Create(t.Context(), &apikey.CreateParams{TenantID: "acme", Name: "ci"})
		if err != nil {
			t.Fatal(err)
		}
		if got := lastUsed(t, st, key); got != nil {
			t.Fatalf("a new key's last use = %v, want none", got)
		}
		first := clk.Now()
		for range 20 {
			if _, err := svc.Authenticate(t.Context(), key); err != nil {
				t.Fatal(err)
			}
			svc.Wait()
		}
		if got := lastUsed(t, st, key); got == nil || !got.Equal(first) {
			t.Fatalf("last use after 20 requests = %v, want %v", got, first)
		}
		clk.Advance(59 * time.Second)
		if _, err := svc.Authenticate(t.Context(), key); err != nil {
			t.Fatal(err)
		}
		svc.Wait()
		if n := spy.touches.Load(); n != 1 {
			t.Fatalf("21 requests within a minute wrote the last use %d times, want once", n)
		}
		clk.Advance(time.Second)
		if _, err := svc.Authenticate(t.Context(), key); err != nil {
			t.Fatal(err)
		}
		svc.Wait()
		if got := lastUsed(t, st, key); got == nil || !got.Equal(clk.Now()) {
			t.Fatalf("last use a minute on = %v, want %v", got, clk.Now())
		}
	})
}

func TestService_AuthenticateDoesNotWaitForTheLastUse(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		spy := &touchSpy{Store: st, started: make(chan struct{}, 100), hold: make(chan struct{})}
		svc, _ := newService(t, spy)
		_, key, err := svc.Create(t.Context(), &apikey.CreateParams{TenantID: "acme", Name: "ci"})
		if err != nil {
			t.Fatal(err)
		}
		// A burst of requests while the write of the last use hangs: each
		// is answered, and the write is made once.
		var wg sync.WaitGroup
		done := make(chan struct{})
		for range 20 {
			wg.Go(func() {
				if _, err := svc.Authenticate(t.Context(), key); err != nil {
					t.Error(err)
				}
			})
		}
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("Authenticate waited for the write of the key's last use")
		}
		<-spy.started
		close(spy.hold)
		svc.Wait()
		if n := spy.touches.Load(); n != 1 {
			t.Fatalf("a burst of 20 requests wrote the last use %d times, want once", n)
		}
	})
}

func TestService_DeleteRefusesTheKeyAtOnce(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		svc, _ := newService(t, st)
		ctx := t.Context()
		k, key, err := svc.Create(ctx, &apikey.CreateParams{TenantID: "acme", Name: "ci"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Authenticate(ctx, key); err != nil {
			t.Fatal(err)
		}
		if err := svc.Delete(ctx, "", k.ID); !errors.Is(err, herald.ErrNotFound) {
			t.Fatalf("delete a tenant key as an admin key: %v, want ErrNotFound", err)
		}
		if err := svc.Delete(ctx, "acme", k.ID); err != nil {
			t.Fatalf("delete: %v", err)
		}
		if _, err := svc.Authenticate(ctx, key); !errors.Is(err, herald.ErrUnauthorized) {
			t.Fatalf("the deleted key: %v, want ErrUnauthorized", err)
		}
		var he *herald.Error
		if err := svc.Delete(ctx, "acme", k.ID); !errors.Is(err, herald.ErrNotFound) || !errors.As(err, &he) || he.Message != "key "+k.ID+" not found" {
			t.Fatalf("delete again: %v, want ErrNotFound naming the key", err)
		}
	})
}

func TestService_AuthenticateRecentRemembersForKeyTTL(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		spy := &lookupSpy{Store: st}
		svc, clk := newService(t, spy)
		// Another node: its own service on the same database.
		other := apikey.NewService(&apikey.Config{Store: st, Clock: clk})
		ctx := t.Context()
		k, key, err := svc.Create(ctx, &apikey.CreateParams{TenantID: "acme", Name: "ci"})
		if err != nil {
			t.Fatal(err)
		}
		for range 10 {
			if _, err := svc.AuthenticateRecent(ctx, key); err != nil {
				t.Fatal(err)
			}
		}
		if n := spy.lookups.Load(); n != 1 {
			t.Fatalf("10 requests within KeyTTL looked the key up %d times, want once", n)
		}
		if err := other.Delete(ctx, "acme", k.ID); err != nil {
			t.Fatal(err)
		}
		clk.Advance(apikey.KeyTTL - time.Millisecond)
		if _, err := svc.AuthenticateRecent(ctx, key); err != nil {
			t.Fatalf("AuthenticateRecent within KeyTTL of its lookup of a key deleted elsewhere: %v, want still known", err)
		}
		// Authenticate looks every key up: the delete elsewhere is seen,
		// and the key forgotten.
		if _, err := svc.Authenticate(ctx, key); !errors.Is(err, herald.ErrUnauthorized) {
			t.Fatalf("Authenticate of a key deleted elsewhere: %v, want ErrUnauthorized", err)
		}
		if _, err := svc.AuthenticateRecent(ctx, key); !errors.Is(err, herald.ErrUnauthorized) {
			t.Fatalf("AuthenticateRecent after Authenticate found the key gone: %v, want ErrUnauthorized", err)
		}
		// Without that, KeyTTL after the lookup.
		k2, key2, err := svc.Create(ctx, &apikey.CreateParams{TenantID: "acme", Name: "ci2"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AuthenticateRecent(ctx, key2); err != nil {
			t.Fatal(err)
		}
		if err := other.Delete(ctx, "acme", k2.ID); err != nil {
			t.Fatal(err)
		}
		clk.Advance(apikey.KeyTTL)
		if _, err := svc.AuthenticateRecent(ctx, key2); !errors.Is(err, herald.ErrUnauthorized) {
			t.Fatalf("AuthenticateRecent KeyTTL after its lookup, of a key deleted elsewhere: %v, want ErrUnauthorized", err)
		}
		// Unknown keys are never remembered: each is looked up.
		before := spy.lookups.Load()
		for range 3 {
			if _, err := svc.AuthenticateRecent(ctx, key); !errors.Is(err, herald.ErrUnauthorized) {
				t.Fatal(err)
			}
		}
		if n := spy.lookups.Load() - before; n != 3 {
			t.Fatalf("3 requests with an unknown key looked it up %d times, want 3", n)
		}
		svc.Wait()
		other.Wait()
	})
}

// lookupSpy counts the lookups of keys by hash.
type lookupSpy struct {
	store.Store
	lookups atomic.Int64
}

func (s *lookupSpy) KeyGetByHash(ctx context.Context, hash string) (*store.Key, error) {
	s.lookups.Add(1)
	return s.Store.KeyGetByHash(ctx, hash)
}

func TestService_DeleteKeepsTheLastAdminKey(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		svc, _ := newService(t, st)
		ctx := t.Context()
		first, _, err := svc.Create(ctx, &apikey.CreateParams{Name: "root"})
		if err != nil {
			t.Fatal(err)
		}
		second, key, err := svc.Create(ctx, &apikey.CreateParams{Name: "ops"})
		if err != nil || second.TenantID != "" {
			t.Fatalf("create an admin key: %+v, %v", second, err)
		}
		if err := svc.Delete(ctx, "", first.ID); err != nil {
			t.Fatalf("delete one of two admin keys: %v", err)
		}
		if err := svc.Delete(ctx, "", second.ID); !errors.Is(err, herald.ErrConflict) || !strings.Contains(err.Error(), "last admin key") {
			t.Fatalf("delete the last admin key: %v, want ErrConflict saying it is the last", err)
		}
		if k, err := svc.Authenticate(ctx, key); err != nil || k.ID != second.ID {
			t.Fatalf("the last admin key after the refused delete: %+v, %v", k, err)
		}
		page, err := svc.List(ctx, "", &store.ListParams{Limit: 10})
		if err != nil || len(page) != 1 || page[0].ID != second.ID {
			t.Fatalf("admin keys: %+v, %v; want %s alone", page, err, second.ID)
		}
	})
}

// A five-character --admin-key was accepted, and worked: now a configured
// key under 32 characters is refused at start, and a short key stored by
// an earlier start no longer authenticates.
func TestService_ShortAdminKeysAreRefused(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		svc, clk := newService(t, st)
		ctx := t.Context()
		for _, short := range []string{"admin", strings.Repeat("k", apikey.MinLen-1)} {
			_, err := svc.Bootstrap(ctx, &apikey.BootstrapParams{Key: short})
			var he *herald.Error
			if !errors.Is(err, herald.ErrInvalid) || !errors.As(err, &he) || !strings.Contains(he.Message, "at least 32") {
				t.Errorf("Bootstrap with a %d-character key: %v, want ErrInvalid saying at least 32", len(short), err)
			}
			if exists, _ := st.KeyAdminExists(ctx); exists {
				t.Fatalf("a refused key was stored")
			}
		}
		if _, err := svc.Bootstrap(ctx, &apikey.BootstrapParams{Key: strings.Repeat("k", apikey.MinLen)}); err != nil {
			t.Errorf("a 32-character key: %v", err)
		}
		// One stored before the rule, as an earlier version would have.
		if _, err := st.KeyCreate(ctx, &store.Key{ID: "key_short", Name: "old", Hash: apikey.Hash("admin"), CreatedAt: clk.Now()}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Authenticate(ctx, "admin"); !errors.Is(err, herald.ErrUnauthorized) {
			t.Errorf("Authenticate with a stored 5-character key: %v, want ErrUnauthorized", err)
		}
	})
}
