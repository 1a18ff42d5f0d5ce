package apikey_test

import (
	"errors"
	"strings"
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
	return apikey.NewService(&apikey.Config{Store: st, Clock: clk}), clk
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
