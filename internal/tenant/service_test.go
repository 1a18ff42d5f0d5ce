package tenant_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
	"github.com/heraldhq/herald/internal/tenant"
)

func newService(st store.Store) (*tenant.Service, *clock.Fake) {
	clk := clock.NewFake(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	return tenant.NewService(&tenant.Config{Store: st, Clock: clk}), clk
}

// message is what err says to the client, with its kind.
func message(err error, kind error) (string, bool) {
	var he *herald.Error
	if !errors.Is(err, kind) || !errors.As(err, &he) {
		return "", false
	}
	return he.Message, true
}

func TestService_CreateChecksTheIDAndRefusesATakenOne(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		svc, clk := newService(st)
		ctx := t.Context()

		got, err := svc.Create(ctx, &tenant.CreateParams{ID: "acme.eu-1", Name: "Acme", Metadata: []byte(`{"plan":"pro"}`)})
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		if got.Name != "Acme" || string(got.Metadata) != `{"plan":"pro"}` || !got.CreatedAt.Equal(clk.Now()) {
			t.Fatalf("created %+v, want Acme with its metadata at %v", got, clk.Now())
		}
		_, err = svc.Create(ctx, &tenant.CreateParams{ID: "acme.eu-1"})
		if msg, ok := message(err, herald.ErrConflict); !ok || msg != "tenant acme.eu-1 already exists" {
			t.Fatalf("taken id: %v, want ErrConflict saying tenant acme.eu-1 already exists", err)
		}
		_, err = svc.Create(ctx, &tenant.CreateParams{ID: "no spaces", Name: "a\x00b"})
		var ve *herald.ValidationError
		if !errors.As(err, &ve) || len(ve.Fields) != 2 || ve.Fields[0].Location != "id" || ve.Fields[1].Location != "name" {
			t.Fatalf("bad id and name: %v, want faults at id and name", err)
		}
	})
}

func TestService_UpdateChangesOnlyWhatIsGiven(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		svc, clk := newService(st)
		ctx := t.Context()
		if _, err := svc.Create(ctx, &tenant.CreateParams{ID: "acme", Name: "Acme", Metadata: []byte(`{"plan":"pro"}`)}); err != nil {
			t.Fatalf("create: %v", err)
		}
		clk.Advance(time.Minute)

		name := "Acme Corp"
		got, err := svc.Update(ctx, "acme", &tenant.UpdateParams{Name: &name})

		if err != nil || got.Name != "Acme Corp" || string(got.Metadata) != `{"plan":"pro"}` || !got.UpdatedAt.Equal(clk.Now()) {
			t.Fatalf("update name: %+v, %v; want the new name, the metadata kept, updated at %v", got, err, clk.Now())
		}
		bad := "a\x00b"
		var ve *herald.ValidationError
		if _, err := svc.Update(ctx, "acme", &tenant.UpdateParams{Name: &bad}); !errors.As(err, &ve) || ve.Fields[0].Location != "name" {
			t.Fatalf("name with NUL: %v, want a fault at name", err)
		}
	})
}

func TestService_MissingTenantIsNamed(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		svc, _ := newService(st)
		ctx := t.Context()
		_, getErr := svc.Get(ctx, "nobody")
		_, updateErr := svc.Update(ctx, "nobody", &tenant.UpdateParams{})
		for name, err := range map[string]error{"Get": getErr, "Update": updateErr, "Delete": svc.Delete(ctx, "nobody")} {
			if msg, ok := message(err, herald.ErrNotFound); !ok || msg != "tenant nobody not found" {
				t.Errorf("%s: %v, want ErrNotFound saying tenant nobody not found", name, err)
			}
		}
	})
}

// countTenantReads counts the tenant reads made through it.
type countTenantReads struct {
	store.Store
	n *int
}

func (c countTenantReads) TenantGet(ctx context.Context, id string) (*store.Tenant, error) {
	*c.n++
	return c.Store.TenantGet(ctx, id)
}

// Exists reads a tenant once for a burst of requests, never remembers a
// tenant that is missing, forgets one deleted through it at once, and sees
// one deleted through another node within two seconds.
func TestService_ExistsRemembersBriefly(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		reads := 0
		svc, clk := newService(countTenantReads{st, &reads})
		ctx := t.Context()
		if err := svc.Exists(ctx, "acme"); !errors.Is(err, herald.ErrNotFound) {
			t.Fatalf("Exists before create: %v, want not found", err)
		}
		for _, id := range []string{"acme", "other"} {
			if _, err := svc.Create(ctx, &tenant.CreateParams{ID: id, Name: id}); err != nil {
				t.Fatal(err)
			}
		}
		reads = 0
		for range 5 {
			if err := svc.Exists(ctx, "acme"); err != nil {
				t.Fatalf("Exists after create: %v", err)
			}
		}
		if reads != 1 {
			t.Fatalf("%d reads for 5 checks, want 1", reads)
		}
		if err := svc.Delete(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
		if err := svc.Exists(ctx, "acme"); !errors.Is(err, herald.ErrNotFound) {
			t.Fatalf("Exists right after this node's delete: %v, want not found", err)
		}
		// Another node deletes "other".
		if err := svc.Exists(ctx, "other"); err != nil {
			t.Fatal(err)
		}
		if err := st.TenantDelete(ctx, "other"); err != nil {
			t.Fatal(err)
		}
		clk.Advance(2 * time.Second)
		if err := svc.Exists(ctx, "other"); !errors.Is(err, herald.ErrNotFound) {
			t.Fatalf("Exists two seconds after another node's delete: %v, want not found", err)
		}
	})
}
