package formatsvc_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/endpoint"
	"github.com/heraldhq/herald/internal/format"
	"github.com/heraldhq/herald/internal/formatsvc"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

// bundle is a Service over a real store with tenant "acme", and the
// endpoint service that shares its catalog.
type bundle struct {
	svc       *formatsvc.Service
	endpoints *endpoint.Service
	formats   *catalog.Catalog
}

func setup(t *testing.T, st store.Store) *bundle {
	t.Helper()
	clk := clock.NewFake(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	if _, err := st.TenantCreate(t.Context(), &store.Tenant{ID: "acme", CreatedAt: clk.Now(), UpdatedAt: clk.Now()}); err != nil {
		t.Fatalf("create tenant: %v", err)
	}
	b := &bundle{formats: catalog.New(st, "", clk)}
	b.endpoints = endpoint.NewService(&endpoint.Config{
		Base: service.Base{Store: st, Clock: clk}, Formats: b.formats,
		CheckURL: func(context.Context, string) error { return nil }, // no resolver in tests
	})
	b.svc = formatsvc.NewService(&formatsvc.Config{Formats: b.formats, Endpoints: b.endpoints})
	return b
}

func (b *bundle) put(t *testing.T, name, def string) (*format.Format, bool, error) {
	t.Helper()
	return b.svc.Put(t.Context(), &formatsvc.PutParams{Name: name, Definition: []byte(def)})
}

func wantFault(t *testing.T, err error, kind error, locations ...string) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("err = %v, want %v", err, kind)
	}
	if got := herald.Locations(err); len(locations) > 0 && !slices.Equal(got, locations) {
		t.Fatalf("fault at %v (%v), want %v", got, err, locations)
	}
}

func TestService_PutTakesTheNameItIsPutUnder(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		b := setup(t, st)
		f, created, err := b.put(t, "acme-v1", `{"signature": {"scheme": "body", "header": "X-Sig"}}`)
		if err != nil || !created || f.Name != "acme-v1" {
			t.Fatalf("Put = %v, created %v, %v; want acme-v1 created", f, created, err)
		}
		if _, created, err = b.put(t, "acme-v1", `{"name": "acme-v1", "signature": {"scheme": "body", "header": "X-Other"}}`); err != nil || created {
			t.Fatalf("Put again: created %v, %v; want a replacement", created, err)
		}
		got, err := b.svc.Get(t.Context(), "acme-v1")
		if err != nil || !slices.Contains(got.Signature().HeaderNames(), "X-Other") {
			t.Fatalf("Get = %v, %v; want the replacement", got, err)
		}

		_, _, err = b.put(t, "Acme V1", `{}`)
		wantFault(t, err, herald.ErrInvalid, "name")
		_, _, err = b.put(t, "acme-v2", `{"name": "acme-v3"}`)
		wantFault(t, err, herald.ErrInvalid, "definition.name")
		_, _, err = b.put(t, "acme-v2", `["not", "an", "object"]`)
		wantFault(t, err, herald.ErrInvalid, "definition")
		_, _, err = b.put(t, "acme-v2", `{"signature": {"scheme": "rot13"}}`)
		wantFault(t, err, herald.ErrInvalid)
		for _, loc := range herald.Locations(err) {
			if !strings.HasPrefix(loc, "definition.") {
				t.Errorf("a definition's fault at %q, want within definition", loc)
			}
		}
		if _, err := b.svc.Get(t.Context(), "acme-v2"); !errors.Is(err, herald.ErrNotFound) || err.Error() != "format acme-v2 not found" {
			t.Errorf("a refused format was stored, or its absence is told as %v", err)
		}
	})
}

func TestService_BuiltinsStayAsTheyAre(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		b := setup(t, st)
		_, _, err := b.put(t, format.StandardWebhooksName, `{}`)
		wantFault(t, err, herald.ErrConflict)
		if !strings.Contains(err.Error(), "built in and cannot be replaced") {
			t.Errorf("replacing a built-in: %v", err)
		}
		err = b.svc.Delete(t.Context(), format.StandardWebhooksName)
		wantFault(t, err, herald.ErrConflict)
		if !strings.Contains(err.Error(), "built in and cannot be deleted") {
			t.Errorf("deleting a built-in: %v", err)
		}
		entries, err := b.svc.List(t.Context())
		if err != nil || len(entries) == 0 || entries[0].Name == "" {
			t.Fatalf("List = %v, %v; want the built-ins", entries, err)
		}
	})
}

func TestService_ARedefinitionMustSuitItsEndpointsSecrets(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		b := setup(t, st)
		if _, _, err := b.put(t, "acme-v1", `{"signature": {"scheme": "body", "header": "X-Sig"}}`); err != nil {
			t.Fatalf("put: %v", err)
		}
		ep, _, err := b.endpoints.Create(t.Context(), "acme", &endpoint.CreateParams{
			URL: "https://example.com/hook", Format: "acme-v1", Secret: "plain_string_secret",
		})
		if err != nil {
			t.Fatalf("create endpoint: %v", err)
		}
		// standard-webhooks needs a whsec_ secret: every delivery would fail.
		_, _, err = b.put(t, "acme-v1", `{"signature": {"scheme": "standard-webhooks"}}`)
		wantFault(t, err, herald.ErrConflict)
		if !strings.Contains(err.Error(), ep.ID) {
			t.Errorf("the conflict does not name the endpoint %s: %v", ep.ID, err)
		}
		if f, err := b.svc.Get(t.Context(), "acme-v1"); err != nil || f.Scheme() != "body" {
			t.Fatalf("the refused redefinition was stored: %v, %v", f, err)
		}
		// One the secret suits is taken.
		if _, _, err := b.put(t, "acme-v1", `{"signature": {"scheme": "timestamped", "header": "X-Sig"}}`); err != nil {
			t.Fatalf("a redefinition the secret suits: %v", err)
		}

		err = b.svc.Delete(t.Context(), "acme-v1")
		wantFault(t, err, herald.ErrConflict)
		if !strings.Contains(err.Error(), "used by at least one endpoint") {
			t.Errorf("deleting a format in use: %v", err)
		}
		if err := b.endpoints.Delete(t.Context(), "acme", ep.ID); err != nil {
			t.Fatalf("delete endpoint: %v", err)
		}
		if err := b.svc.Delete(t.Context(), "acme-v1"); err != nil {
			t.Fatalf("delete: %v", err)
		}
		err = b.svc.Delete(t.Context(), "acme-v1")
		wantFault(t, err, herald.ErrNotFound)
		if err.Error() != "format acme-v1 not found" {
			t.Errorf("deleting a missing format: %v", err)
		}
	})
}
