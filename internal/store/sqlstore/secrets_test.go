package sqlstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/secretbox"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

var t0 = time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)

func ring(t *testing.T, keys ...byte) *secretbox.Keyring {
	t.Helper()
	var ks [][]byte
	for _, b := range keys {
		ks = append(ks, bytes.Repeat([]byte{b}, secretbox.KeySize))
	}
	r, err := secretbox.NewKeyring(ks[0], ks[1:]...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// endpoint makes an endpoint of tenant acme with a secret and two
// replaced ones still signing, all named after n.
func endpoint(t *testing.T, st store.Store, n int) *store.Endpoint {
	t.Helper()
	e, err := st.EndpointCreate(ctxT(t), &store.Endpoint{
		TenantID: "acme", URL: "https://example.com/hook", Events: []string{"*"}, Enabled: true,
		Secret: fmt.Sprintf("whsec_current%04d", n),
		PreviousSecrets: []store.PreviousSecret{
			{Secret: fmt.Sprintf("whsec_previous%04d", n), ReplacedAt: t0, ExpiresAt: t0.Add(time.Hour)},
			{Secret: fmt.Sprintf("whsec_earliest%04d", n), ExpiresAt: t0.Add(2 * time.Hour)},
		},
		Headers: map[string]string{"Authorization": "Bearer token"},
	})
	if err != nil {
		t.Fatalf("create endpoint: %v", err)
	}
	return e
}

func sameSecrets(t *testing.T, what string, got *store.Endpoint, n int) {
	t.Helper()
	want := []string{fmt.Sprintf("whsec_current%04d", n), fmt.Sprintf("whsec_previous%04d", n), fmt.Sprintf("whsec_earliest%04d", n)}
	if g := got.SigningSecrets(t0); strings.Join(g, ",") != strings.Join(want, ",") {
		t.Errorf("%s: secrets %v, want %v", what, g, want)
	}
}

// stored is every secret value in the endpoints table, as the database
// holds it.
func stored(t *testing.T, db *dbtest.DB) string {
	t.Helper()
	return strings.Join(append(db.Strings(t, `SELECT secret FROM endpoints`), db.Strings(t, `SELECT previous_secrets FROM endpoints`)...), "\n")
}

func TestSecretsAreSealedAtRest(t *testing.T) {
	t.Parallel()
	dbtest.EachDB(t, func(t *testing.T, db *dbtest.DB) {
		t.Parallel()
		ctx := ctxT(t)
		a := ring(t, 1)
		st := db.Open(t, store.WithSecrets(a))
		if _, err := st.TenantCreate(ctx, &store.Tenant{ID: "acme"}); err != nil {
			t.Fatal(err)
		}
		ep := endpoint(t, st, 1)
		sameSecrets(t, "EndpointCreate", ep, 1)

		raw := stored(t, db)
		if strings.Contains(raw, "whsec_") || strings.Contains(raw, "current0001") {
			t.Fatalf("the endpoints table holds a secret in clear:\n%s", raw)
		}
		if ids := db.Strings(t, `SELECT secret_key_id FROM endpoints`); len(ids) != 1 || ids[0] != a.ID() {
			t.Fatalf("secret_key_id = %v, want [%s]", ids, a.ID())
		}

		// Everything above the store sees them in clear: reads, the
		// claim, updates.
		sameSecrets(t, "EndpointGet", do(st.EndpointGet(ctx, "acme", ep.ID)).must(t), 1)
		if _, err := st.EventCreate(ctx, &store.EventCreateParams{Event: &store.Event{TenantID: "acme", Type: "x", Data: []byte(`{}`), Hash: "h", TraceID: strings.Repeat("0", 32), Source: store.SourceAPI}, Now: t0}); err != nil {
			t.Fatal(err)
		}
		claimed := do(st.DeliveryClaimDue(ctx, &store.DeliveryClaimParams{Owner: "w", Now: t0.Add(time.Second), Lease: time.Minute, Limit: 1, PerEndpoint: 1})).must(t)
		if len(claimed) != 1 {
			t.Fatalf("claimed %d, want 1", len(claimed))
		}
		sameSecrets(t, "DeliveryClaimDue", claimed[0].Endpoint, 1)
		ep.Description = "changed"
		sameSecrets(t, "EndpointUpdate", do(st.EndpointUpdate(ctx, ep)).must(t), 1)
		if raw := stored(t, db); strings.Contains(raw, "whsec_") {
			t.Fatalf("after an update the endpoints table holds a secret in clear:\n%s", raw)
		}
		rep := do(st.EndpointSecretsCheck(ctx)).must(t)
		if rep.Clear != 0 || rep.Sealed[a.ID()] != 1 || len(rep.Sealed) != 1 {
			t.Errorf("EndpointSecretsCheck = %+v, want 1 sealed under %s", rep, a.ID())
		}

		// Without the key, or with another, the store says so instead of
		// signing with ciphertext.
		for name, opts := range map[string][]store.Option{"no key": nil, "another key": {store.WithSecrets(ring(t, 2))}} {
			other := db.Open(t, opts...)
			if _, err := other.EndpointSecretsCheck(ctx); !errors.Is(err, secretbox.ErrUnknownKey) || !strings.Contains(err.Error(), a.ID()) {
				t.Errorf("%s: EndpointSecretsCheck = %v, want ErrUnknownKey naming %s", name, err, a.ID())
			}
			if _, err := other.EndpointGet(ctx, "acme", ep.ID); !errors.Is(err, secretbox.ErrUnknownKey) {
				t.Errorf("%s: EndpointGet = %v, want ErrUnknownKey", name, err)
			}
		}

		// A sealed value altered in the database does not open: loudly.
		db.Exec(t, `UPDATE endpoints SET secret = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'`)
		if _, err := st.EndpointSecretsCheck(ctx); !errors.Is(err, secretbox.ErrOpen) {
			t.Errorf("EndpointSecretsCheck of an altered secret = %v, want ErrOpen", err)
		}
	})
}

func TestSecretsWithoutAKeyStayInClear(t *testing.T) {
	t.Parallel()
	dbtest.EachDB(t, func(t *testing.T, db *dbtest.DB) {
		t.Parallel()
		ctx := ctxT(t)
		st := db.Open(t)
		if _, err := st.TenantCreate(ctx, &store.Tenant{ID: "acme"}); err != nil {
			t.Fatal(err)
		}
		ep := endpoint(t, st, 7)
		if ids := db.Strings(t, `SELECT secret_key_id FROM endpoints`); len(ids) != 1 || ids[0] != "" {
			t.Fatalf("secret_key_id = %q, want empty (in clear)", ids)
		}
		if raw := stored(t, db); !strings.Contains(raw, "whsec_current0007") {
			t.Fatalf("without a key the secret is stored %q, want it as it is", raw)
		}
		if rep := do(st.EndpointSecretsCheck(ctx)).must(t); rep.Clear != 1 || len(rep.Sealed) != 0 {
			t.Errorf("EndpointSecretsCheck = %+v, want 1 in clear", rep)
		}
		// A server given a key later still reads them.
		sameSecrets(t, "EndpointGet with a key", do(db.Open(t, store.WithSecrets(ring(t, 1))).EndpointGet(ctx, "acme", ep.ID)).must(t), 7)
		if _, err := st.EndpointSecretsReseal(ctx); err == nil {
			t.Error("EndpointSecretsReseal without a key: no error")
		}

		// Deleting an endpoint erases its credentials.
		if err := st.EndpointDelete(ctx, "acme", ep.ID); err != nil {
			t.Fatal(err)
		}
		if got := db.Strings(t, `SELECT secret || '|' || previous_secrets || '|' || headers FROM endpoints`); len(got) != 1 || got[0] != "|[]|{}" {
			t.Errorf("a deleted endpoint's secret, previous secrets and headers are stored %q, want them erased", got)
		}
	})
}

func TestRotateKeyResealsEveryRow(t *testing.T) {
	t.Parallel()
	dbtest.EachDB(t, func(t *testing.T, db *dbtest.DB) {
		t.Parallel()
		ctx := ctxT(t)
		a, b := ring(t, 1), ring(t, 2)
		clear := db.Open(t)
		if _, err := clear.TenantCreate(ctx, &store.Tenant{ID: "acme"}); err != nil {
			t.Fatal(err)
		}
		// More than one batch: some in clear from before the key, the rest
		// under key a.
		const n = 130
		ids := make([]string, n)
		for i := range 10 {
			ids[i] = endpoint(t, clear, i).ID
		}
		underA := db.Open(t, store.WithSecrets(a))
		for i := 10; i < n; i++ {
			ids[i] = endpoint(t, underA, i).ID
		}
		before := stored(t, db)

		// b is the new key, a the old one still read.
		both := db.Open(t, store.WithSecrets(ring(t, 2, 1)))
		rep := do(both.EndpointSecretsCheck(ctx)).must(t)
		if rep.Clear != 10 || rep.Sealed[a.ID()] != n-10 {
			t.Fatalf("before rotate-key: %+v, want 10 in clear and %d under %s", rep, n-10, a.ID())
		}
		if got := do(both.EndpointSecretsReseal(ctx)).must(t); got != n {
			t.Fatalf("EndpointSecretsReseal = %d, want %d", got, n)
		}
		for _, id := range db.Strings(t, `SELECT secret_key_id FROM endpoints`) {
			if id != b.ID() {
				t.Fatalf("a row is under key %q after rotate-key, want %s", id, b.ID())
			}
		}
		after := stored(t, db)
		if strings.Contains(after, "whsec_") {
			t.Fatal("a secret is in clear after rotate-key")
		}
		for _, v := range strings.Split(before, "\n") {
			if len(v) > 20 && strings.Contains(after, v) {
				t.Fatalf("value %q is stored as before rotate-key", v)
			}
		}
		// Nothing left to do the second time.
		if got := do(both.EndpointSecretsReseal(ctx)).must(t); got != 0 {
			t.Errorf("a second EndpointSecretsReseal changed %d, want 0", got)
		}

		// The new key alone reads every row; the old one alone none.
		onlyB := db.Open(t, store.WithSecrets(b))
		if rep := do(onlyB.EndpointSecretsCheck(ctx)).must(t); rep.Sealed[b.ID()] != n || rep.Clear != 0 {
			t.Errorf("after rotate-key: %+v, want all %d under %s", rep, n, b.ID())
		}
		for i, id := range ids {
			sameSecrets(t, fmt.Sprintf("endpoint %d under the new key", i), do(onlyB.EndpointGet(ctx, "acme", id)).must(t), i)
		}
		if _, err := db.Open(t, store.WithSecrets(a)).EndpointSecretsCheck(ctx); !errors.Is(err, secretbox.ErrUnknownKey) {
			t.Errorf("the old key alone after rotate-key: %v, want ErrUnknownKey", err)
		}
	})
}

type result[T any] struct {
	v   T
	err error
}

func do[T any](v T, err error) result[T] { return result[T]{v, err} }

func (r result[T]) must(t *testing.T) T {
	t.Helper()
	if r.err != nil {
		t.Fatalf("unexpected error: %v", r.err)
	}
	return r.v
}
