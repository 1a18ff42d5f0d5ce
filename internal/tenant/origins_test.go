package tenant_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
	"github.com/heraldhq/herald/internal/tenant"
)

func TestCanonicalOrigin(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://App.Example.com":     "https://app.example.com",
		"https://app.example.com/":    "https://app.example.com",
		"https://app.example.com:443": "https://app.example.com",
		"http://localhost:3000":       "http://localhost:3000",
		"http://example.com:80":       "http://example.com",
		"https://[::1]:8443":          "https://[::1]:8443",
	} {
		if got, err := tenant.CanonicalOrigin(in); err != nil || got != want {
			t.Errorf("CanonicalOrigin(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{
		"", "example.com", "ftp://example.com", "https://", "https://example.com/path", "https://example.com?q",
		"https://example.com#f", "https://user@example.com", "https://*.example.com", "https://a.com https://b.com",
		"https://a.com;script-src", "https://exa'mple.com", "https://example.com:0", "https://example.com:99999",
		"javascript:alert(1)", "'self'", "*",
	} {
		if got, err := tenant.CanonicalOrigin(in); err == nil {
			t.Errorf("CanonicalOrigin(%q) = %q, nil; want an error", in, got)
		}
	}
}

// FuzzCanonicalOrigin: whatever a user sends, an accepted origin is one
// word of a CSP source list and is its own canonical form.
func FuzzCanonicalOrigin(f *testing.F) {
	for _, s := range []string{"https://a.example", "http://localhost:3000", "https://[::1]:8443", "https://a b", "https://a;b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := tenant.CanonicalOrigin(in)
		if err != nil {
			return
		}
		if strings.ContainsAny(got, " \t\r\n;,'\"*") || !strings.HasPrefix(got, "http") {
			t.Fatalf("CanonicalOrigin(%q) = %q: not one source expression", in, got)
		}
		if again, err := tenant.CanonicalOrigin(got); err != nil || again != got {
			t.Fatalf("CanonicalOrigin(%q) = %q, %v; want it unchanged", got, again, err)
		}
	})
}

func TestService_PortalOriginsAreCheckedAndKept(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		svc, _ := newService(st)
		ctx := t.Context()
		_, err := svc.Create(ctx, &tenant.CreateParams{ID: "acme", PortalOrigins: []string{"https://ok.example", "https://bad.example/path"}})
		var ve *herald.ValidationError
		if !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Location != "portal_origins[1]" {
			t.Fatalf("create with a path in an origin: %v, want one fault at portal_origins[1]", err)
		}
		got, err := svc.Create(ctx, &tenant.CreateParams{ID: "acme", PortalOrigins: []string{"https://App.example", "https://app.example:443"}})
		if err != nil || !reflect.DeepEqual(got.PortalOrigins, []string{"https://app.example"}) {
			t.Fatalf("create = %+v, %v; want the origin once, in lower case", got, err)
		}
		none := []string{}
		got, err = svc.Update(ctx, "acme", &tenant.UpdateParams{PortalOrigins: &none})
		if err != nil || got.PortalOrigins != nil {
			t.Fatalf("update to none = %+v, %v; want no origins", got, err)
		}
	})
}
