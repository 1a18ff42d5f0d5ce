package endpoint_test

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
	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/endpoint"
	"github.com/heraldhq/herald/internal/format"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

// bundle is a Service over a real store with tenant "acme", a fake clock
// and a format "body-sig" whose scheme has room for one signature only.
type bundle struct {
	svc     *endpoint.Service
	st      store.Store
	formats *catalog.Catalog
	clock   *clock.Fake
}

func setup(t *testing.T, st store.Store, configure ...func(*endpoint.Config)) *bundle {
	t.Helper()
	ctx := t.Context()
	b := &bundle{st: st, clock: clock.NewFake(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))}
	if _, err := st.TenantCreate(ctx, &store.Tenant{ID: "acme", CreatedAt: b.clock.Now(), UpdatedAt: b.clock.Now()}); err != nil {
		t.Fatalf("create tenant: %v", err)
	}
	formats := catalog.New(st, "", nil)
	f, err := format.Parse([]byte(`{"name": "body-sig", "signature": {"scheme": "body", "header": "X-Sig"}}`))
	if err != nil {
		t.Fatalf("parse format: %v", err)
	}
	if _, err := formats.Put(ctx, f); err != nil {
		t.Fatalf("store format: %v", err)
	}
	b.formats = formats
	cfg := &endpoint.Config{Base: service.Base{Store: st, Clock: b.clock}, Formats: formats}
	for _, c := range configure {
		c(cfg)
	}
	b.svc = endpoint.NewService(cfg)
	return b
}

// create makes an endpoint that must be accepted.
func (b *bundle) create(t *testing.T, p *endpoint.CreateParams) (*store.Endpoint, string) {
	t.Helper()
	if p.URL == "" {
		p.URL = "https://example.com/hook"
	}
	e, secret, err := b.svc.Create(t.Context(), "acme", p)
	if err != nil {
		t.Fatalf("create endpoint %+v: %v", p, err)
	}
	return e, secret
}

func TestService_CreateFillsTheDefaults(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		b := setup(t, st)

		e, secret := b.create(t, &endpoint.CreateParams{})

		if !e.Enabled || !slices.Equal(e.Events, []string{"*"}) || e.Format != format.StandardWebhooksName {
			t.Errorf("new endpoint enabled %v, events %v, format %q; want enabled, [*], %s", e.Enabled, e.Events, e.Format, format.StandardWebhooksName)
		}
		if !strings.HasPrefix(secret, "whsec_") || secret != e.Secret {
			t.Errorf("secret %q (stored %q), want a generated whsec_ secret, the one stored", secret, e.Secret)
		}
		if !strings.HasPrefix(e.ID, "ep_") || !e.CreatedAt.Equal(b.clock.Now()) || !e.UpdatedAt.Equal(b.clock.Now()) {
			t.Errorf("id %q created %v updated %v, want ep_... at the clock's %v", e.ID, e.CreatedAt, e.UpdatedAt, b.clock.Now())
		}
		got, err := b.svc.Get(t.Context(), "acme", e.ID)
		if err != nil || got.Secret != secret {
			t.Fatalf("Get = %v, %v; want the stored endpoint", got, err)
		}
		// A secret of the user's own, right for its scheme, is kept.
		_, secret = b.create(t, &endpoint.CreateParams{Format: "body-sig", Secret: "your_webhook_secret"})
		if secret != "your_webhook_secret" {
			t.Errorf("own secret came back as %q", secret)
		}
	})
}

func TestService_CreateNamesEveryFault(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		b := setup(t, st)

		_, _, err := b.svc.Create(t.Context(), "acme", &endpoint.CreateParams{
			URL: "ftp://example.com/", Secret: "plain", Description: "a\x00b", Events: []string{"ok", "a..b"},
			Headers: map[string]string{"Webhook-Signature": "forged"}, RateLimit: -1,
		})

		want := []string{"secret", "description", "events[1]", "headers.Webhook-Signature", "rate_limit", "url"}
		if got := herald.Locations(err); !slices.Equal(got, want) {
			t.Fatalf("faults at %v, want %v", got, want)
		}
		rows, err := b.svc.List(t.Context(), "acme", &store.ListParams{Limit: 10})
		if err != nil || len(rows) != 0 {
			t.Fatalf("List = %d endpoints, %v; want none stored", len(rows), err)
		}
		// A format that does not exist is the fault that stops everything.
		_, _, err = b.svc.Create(t.Context(), "acme", &endpoint.CreateParams{URL: "ftp://x/", Format: "nope"})
		if got := herald.Locations(err); !slices.Equal(got, []string{"format"}) {
			t.Fatalf("unknown format: faults at %v, want [format]", got)
		}
	})
}

func TestService_RefusesInternalDestinationsUnlessAllowed(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		b := setup(t, st)
		_, _, err := b.svc.Create(t.Context(), "acme", &endpoint.CreateParams{URL: "http://169.254.169.254/latest/meta-data"})
		if got := herald.Locations(err); !slices.Equal(got, []string{"url"}) {
			t.Fatalf("metadata address: faults at %v, want [url]", got)
		}

		open := endpoint.NewService(&endpoint.Config{Base: service.Base{Store: st}, Formats: b.formats, AllowPrivateDestinations: true})
		if _, _, err := open.Create(t.Context(), "acme", &endpoint.CreateParams{URL: "http://127.0.0.1:9000/hook"}); err != nil {
			t.Fatalf("loopback with private destinations allowed: %v", err)
		}
	})
}

func TestService_UpdateChecksAChangedURLOnly(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		var checked []string
		b := setup(t, st, func(c *endpoint.Config) {
			c.CheckURL = func(ctx context.Context, raw string) error {
				checked = append(checked, raw)
				return delivery.CheckURL(ctx, raw, false, nil)
			}
		})
		e, _ := b.create(t, &endpoint.CreateParams{Description: "d", RateLimit: 3})
		b.clock.Advance(time.Minute)

		desc, same := "changed", e.URL
		got, err := b.svc.Update(t.Context(), "acme", e.ID, &endpoint.UpdateParams{Description: &desc, URL: &same})
		if err != nil {
			t.Fatalf("update: %v", err)
		}
		if got.Description != "changed" || got.RateLimit != 3 || !got.UpdatedAt.Equal(b.clock.Now()) {
			t.Errorf("after update: description %q, rate limit %d, updated %v; want changed, 3 kept, %v", got.Description, got.RateLimit, got.UpdatedAt, b.clock.Now())
		}
		if len(checked) != 1 {
			t.Errorf("URL checked %d times (%v), want once, at creation", len(checked), checked)
		}
		internal := "http://10.1.2.3/"
		_, err = b.svc.Update(t.Context(), "acme", e.ID, &endpoint.UpdateParams{URL: &internal})
		if got := herald.Locations(err); !slices.Equal(got, []string{"url"}) {
			t.Fatalf("internal URL: faults at %v, want [url]", got)
		}
	})
}

func TestService_UpdateRefusesAFormatTheSecretDoesNotSuit(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		b := setup(t, st)
		e, _ := b.create(t, &endpoint.CreateParams{Format: "body-sig", Secret: "your_webhook_secret"})

		std := format.StandardWebhooksName
		_, err := b.svc.Update(t.Context(), "acme", e.ID, &endpoint.UpdateParams{Format: &std})

		if got := herald.Locations(err); !slices.Equal(got, []string{"format"}) {
			t.Fatalf("faults at %v, want [format]", got)
		}
		// A generated secret suits every scheme.
		g, _ := b.create(t, &endpoint.CreateParams{})
		bodySig := "body-sig"
		if got, err := b.svc.Update(t.Context(), "acme", g.ID, &endpoint.UpdateParams{Format: &bodySig}); err != nil || got.Format != "body-sig" {
			t.Fatalf("generated secret to body-sig: %v, %v", got, err)
		}
	})
}

func TestService_RotateSecretKeepsTheOldOneForTheGrace(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		b := setup(t, st)
		e, old := b.create(t, &endpoint.CreateParams{})
		b.clock.Advance(time.Hour)

		got, secret, err := b.svc.RotateSecret(t.Context(), "acme", e.ID, &endpoint.RotateParams{})

		if err != nil {
			t.Fatalf("rotate: %v", err)
		}
		if secret == old || secret != got.Secret || len(got.PreviousSecrets) != 1 || got.PreviousSecrets[0].Secret != old {
			t.Fatalf("secret %q, stored %q, previous %+v; want a new one and the old %q kept", secret, got.Secret, got.PreviousSecrets, old)
		}
		if p, want := got.PreviousSecrets[0], b.clock.Now().Add(endpoint.DefaultGrace); !p.ExpiresAt.Equal(want) || !p.ReplacedAt.Equal(b.clock.Now()) {
			t.Fatalf("previous secret replaced %v, expires %v; want %v, %v", p.ReplacedAt, p.ExpiresAt, b.clock.Now(), want)
		}
		// 0s: the secret replaced stops at once; the one in its grace
		// period goes on.
		got, _, err = b.svc.RotateSecret(t.Context(), "acme", e.ID, &endpoint.RotateParams{Grace: "0s", Secret: old})
		if err != nil || got.Secret != old || len(got.PreviousSecrets) != 1 || got.PreviousSecrets[0].Secret != old {
			t.Fatalf("rotate with 0s: %+v, %v; want the given secret and only the first rotation's previous one", got, err)
		}
		for _, grace := range []string{"soon", "-1h", "169h"} {
			_, _, err := b.svc.RotateSecret(t.Context(), "acme", e.ID, &endpoint.RotateParams{Grace: grace})
			if got := herald.Locations(err); !slices.Equal(got, []string{"grace"}) {
				t.Errorf("grace %q: faults at %v, want [grace]", grace, got)
			}
		}
		_, _, err = b.svc.RotateSecret(t.Context(), "acme", e.ID, &endpoint.RotateParams{Secret: "not-whsec"})
		if got := herald.Locations(err); !slices.Equal(got, []string{"secret"}) {
			t.Errorf("bad secret: faults at %v, want [secret]", got)
		}
	})
}

// Two rotations within one grace period used to drop the first secret at
// once: now each keeps signing until its own grace ends, up to
// store.MaxPreviousSecrets, past which a rotation with a grace is refused
// rather than cut a secret off.
func TestService_RotationsWithinAGraceKeepEverySecret(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		b := setup(t, st)
		ctx := t.Context()
		e, first := b.create(t, &endpoint.CreateParams{})
		start := b.clock.Now()
		secrets := []string{first}
		for i := range store.MaxPreviousSecrets {
			b.clock.Advance(time.Minute)
			got, secret, err := b.svc.RotateSecret(ctx, "acme", e.ID, &endpoint.RotateParams{Grace: "1h"})
			if err != nil {
				t.Fatalf("rotation %d: %v", i+1, err)
			}
			secrets = append([]string{secret}, secrets...)
			if signing := got.SigningSecrets(b.clock.Now()); !slices.Equal(signing, secrets) {
				t.Fatalf("after rotation %d the secrets signing are %d, want all %d, newest first", i+1, len(signing), len(secrets))
			}
		}
		// A sixth within the grace is refused, and nothing changes.
		b.clock.Advance(time.Minute)
		_, _, err := b.svc.RotateSecret(ctx, "acme", e.ID, &endpoint.RotateParams{Grace: "1h"})
		var he *herald.Error
		if !errors.Is(err, herald.ErrConflict) || !errors.As(err, &he) || !strings.Contains(he.Message, start.Add(time.Minute+time.Hour).Format(time.RFC3339)) {
			t.Fatalf("a 6th rotation within the grace: %v, want ErrConflict saying when the first stops", err)
		}
		stored, _ := st.EndpointGet(ctx, "acme", e.ID)
		if !slices.Equal(stored.SigningSecrets(b.clock.Now()), secrets) {
			t.Fatalf("the refused rotation changed the secrets")
		}
		// With no grace it goes through: the current secret is replaced at
		// once, the others keep their grace.
		got, newest, err := b.svc.RotateSecret(ctx, "acme", e.ID, &endpoint.RotateParams{Grace: "0s"})
		if err != nil {
			t.Fatalf("rotation with grace 0s: %v", err)
		}
		if want := append([]string{newest}, secrets[1:]...); !slices.Equal(got.SigningSecrets(b.clock.Now()), want) {
			t.Fatalf("after a 0s rotation: %d secrets signing, want the new one and the 5 in their grace", len(got.SigningSecrets(b.clock.Now())))
		}
		// Each stops at the end of its own grace; once the first has, a
		// rotation with a grace fits again, and drops the expired.
		b.clock.Set(start.Add(time.Minute + time.Hour))
		got, _, err = b.svc.RotateSecret(ctx, "acme", e.ID, &endpoint.RotateParams{Grace: "1h"})
		if err != nil {
			t.Fatalf("a rotation once the first grace ended: %v", err)
		}
		if n := len(got.PreviousSecrets); n != store.MaxPreviousSecrets {
			t.Fatalf("%d previous secrets stored, want %d: the expired one dropped, the replaced one added", n, store.MaxPreviousSecrets)
		}
		if got.PreviousSecrets[0].Secret != newest || slices.Contains(got.SigningSecrets(b.clock.Now()), first) {
			t.Fatalf("previous secrets after it: want the replaced one first and the very first gone")
		}
	})
}

func TestService_RotateSecretOfAOneSignatureSchemeHasNoGrace(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		b := setup(t, st)
		e, _ := b.create(t, &endpoint.CreateParams{Format: "body-sig"})

		got, _, err := b.svc.RotateSecret(t.Context(), "acme", e.ID, &endpoint.RotateParams{})
		if err != nil || len(got.PreviousSecrets) != 0 {
			t.Fatalf("default rotation: %+v, %v; want no grace for the body scheme", got, err)
		}
		_, _, err = b.svc.RotateSecret(t.Context(), "acme", e.ID, &endpoint.RotateParams{Grace: "1h"})
		if got := herald.Locations(err); !slices.Equal(got, []string{"grace"}) {
			t.Fatalf("grace 1h: faults at %v, want [grace]", got)
		}
	})
}

func TestService_MissingEndpointIsNamed(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		b := setup(t, st)
		ctx := t.Context()
		desc := "x"
		_, _, rotateErr := b.svc.RotateSecret(ctx, "acme", "ep_nope", &endpoint.RotateParams{})
		_, updateErr := b.svc.Update(ctx, "acme", "ep_nope", &endpoint.UpdateParams{Description: &desc})
		for name, err := range map[string]error{
			"Delete": b.svc.Delete(ctx, "acme", "ep_nope"), "RotateSecret": rotateErr, "Update": updateErr,
		} {
			var he *herald.Error
			if !errors.Is(err, herald.ErrNotFound) || !errors.As(err, &he) || he.Message != "endpoint ep_nope not found" {
				t.Errorf("%s of a missing endpoint: %v, want ErrNotFound saying endpoint ep_nope not found", name, err)
			}
		}
		// Another tenant's endpoint is missing too.
		e, _ := b.create(t, &endpoint.CreateParams{})
		if _, err := b.svc.Get(ctx, "other", e.ID); !errors.Is(err, herald.ErrNotFound) {
			t.Errorf("Get from another tenant: %v, want ErrNotFound", err)
		}
	})
}

func TestService_CheckFormatChangeKeepsEverySecretUsable(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		b := setup(t, st)
		e, _ := b.create(t, &endpoint.CreateParams{Format: "body-sig", Secret: "plain_string_secret"})
		parse := func(def string) *format.Format {
			f, err := format.Parse([]byte(def))
			if err != nil {
				t.Fatalf("parse format: %v", err)
			}
			return f
		}
		err := b.svc.CheckFormatChange(t.Context(), parse(`{"name": "body-sig", "signature": {"scheme": "standard-webhooks"}}`))
		if !errors.Is(err, herald.ErrConflict) || !strings.Contains(err.Error(), e.ID) {
			t.Fatalf("a redefinition the secret cannot sign for: %v, want a conflict naming %s", err, e.ID)
		}
		if err := b.svc.CheckFormatChange(t.Context(), parse(`{"name": "body-sig", "signature": {"scheme": "timestamped", "header": "X-Sig"}}`)); err != nil {
			t.Fatalf("a redefinition the secret suits: %v", err)
		}
		// Only the endpoints using the format count.
		if err := b.svc.CheckFormatChange(t.Context(), parse(`{"name": "other", "signature": {"scheme": "standard-webhooks"}}`)); err != nil {
			t.Fatalf("a format no endpoint uses: %v", err)
		}
	})
}

// A tenant may have MaxPerTenant endpoints, DefaultMaxPerTenant unless
// configured; the next create is a conflict naming the tenant and the cap,
// and stores nothing.
func TestService_CapsEndpointsPerTenant(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		b := setup(t, st, func(c *endpoint.Config) { c.MaxPerTenant = 2 })
		b.create(t, &endpoint.CreateParams{})
		b.create(t, &endpoint.CreateParams{Enabled: new(false)}) // a disabled one counts too
		_, _, err := b.svc.Create(t.Context(), "acme", &endpoint.CreateParams{URL: "https://example.com/3"})
		var he *herald.Error
		if !errors.Is(err, herald.ErrConflict) || !errors.As(err, &he) || !strings.Contains(he.Message, "acme") || !strings.Contains(he.Message, "2 endpoints") {
			t.Fatalf("third endpoint under a cap of 2: %v, want a conflict naming the tenant and the cap", err)
		}
		if eps, _ := b.svc.List(t.Context(), "acme", &store.ListParams{Limit: 10}); len(eps) != 2 {
			t.Errorf("%d endpoints after the refused create, want 2", len(eps))
		}

		// The default: 100.
		def := endpoint.NewService(&endpoint.Config{Base: service.Base{Store: st, Clock: b.clock}, Formats: b.formats})
		if _, err := st.TenantCreate(t.Context(), &store.Tenant{ID: "big", CreatedAt: b.clock.Now(), UpdatedAt: b.clock.Now()}); err != nil {
			t.Fatal(err)
		}
		for range endpoint.DefaultMaxPerTenant {
			if _, err := st.EndpointCreate(t.Context(), &store.Endpoint{TenantID: "big", URL: "https://example.com/", Events: []string{"*"}, Secret: "whsec_x"}); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := def.Create(t.Context(), "big", &endpoint.CreateParams{URL: "https://example.com/hook"}); !errors.Is(err, herald.ErrConflict) {
			t.Fatalf("endpoint %d by default: %v, want a conflict", endpoint.DefaultMaxPerTenant+1, err)
		}
	})
}
