package catalog_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/format"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

func mustParse(t *testing.T, def string) *format.Format {
	t.Helper()
	f, err := format.Parse([]byte(def))
	if err != nil {
		t.Fatalf("parse %s: %v", def, err)
	}
	return f
}

func TestCatalog_AnotherNodesChangeIsSeenWithinTheCacheTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := dbtest.SQLite(t)
	clk := clock.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	here, there := catalog.New(st, "", clk), catalog.New(st, "", clk)

	if _, err := here.Put(ctx, mustParse(t, `{"name":"acme","timeout":"10s"}`)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*catalog.Catalog{here, there} {
		if f, err := c.Get(ctx, "acme"); err != nil || f.Timeout() != 10*time.Second {
			t.Fatalf("Get acme: %v, %v; want the stored format with timeout 10s", f, err)
		}
	}
	if _, err := here.Put(ctx, mustParse(t, `{"name":"acme","timeout":"20s"}`)); err != nil {
		t.Fatal(err)
	}
	if f, _ := here.Get(ctx, "acme"); f.Timeout() != 20*time.Second {
		t.Errorf("the node that changed the format still serves timeout %v, want 20s at once", f.Timeout())
	}
	if f, _ := there.Get(ctx, "acme"); f.Timeout() != 10*time.Second {
		t.Errorf("another node serves timeout %v within the cache time, want the cached 10s", f.Timeout())
	}
	clk.Advance(2 * time.Second)
	if f, _ := there.Get(ctx, "acme"); f.Timeout() != 20*time.Second {
		t.Errorf("another node serves timeout %v after the cache time, want 20s", f.Timeout())
	}
}

func TestCatalog_DefaultAndBuiltins(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := dbtest.SQLite(t)
	c := catalog.New(st, "", nil)
	if c.DefaultName() != format.StandardWebhooksName {
		t.Errorf("default %q, want %q", c.DefaultName(), format.StandardWebhooksName)
	}
	if f, err := c.Get(ctx, ""); err != nil || !f.Builtin {
		t.Errorf(`Get(""): %v, %v; want the built-in default`, f, err)
	}
	std, _ := format.Builtin(format.StandardWebhooksName)
	if _, err := c.Put(ctx, std); !errors.Is(err, catalog.ErrBuiltin) || !errors.Is(err, herald.ErrConflict) {
		t.Errorf("Put of a built-in: %v, want ErrBuiltin, a conflict", err)
	}
	if err := c.Delete(ctx, format.StandardWebhooksName); !errors.Is(err, catalog.ErrBuiltin) {
		t.Errorf("Delete of a built-in: %v, want ErrBuiltin", err)
	}
	if _, err := c.Get(ctx, "nope"); !errors.Is(err, herald.ErrNotFound) {
		t.Errorf("Get of a missing format: %v, want ErrNotFound", err)
	}
	named := catalog.New(st, "acme", nil)
	if _, err := named.Get(ctx, ""); !errors.Is(err, herald.ErrNotFound) {
		t.Errorf(`Get("") with a default that is not stored: %v, want ErrNotFound`, err)
	}
}

func TestCatalog_PutListDelete(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := dbtest.SQLite(t)
	c := catalog.New(st, "", nil)

	created, err := c.Put(ctx, mustParse(t, `{"name":"acme"}`))
	if err != nil || !created {
		t.Fatalf("first Put: created %v, %v; want created", created, err)
	}
	if created, err = c.Put(ctx, mustParse(t, `{"name":"acme","json":"python"}`)); err != nil || created {
		t.Fatalf("second Put: created %v, %v; want replaced", created, err)
	}
	list, err := c.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != format.StandardWebhooksName || !list[0].CreatedAt.IsZero() ||
		list[1].Name != "acme" || list[1].CreatedAt.IsZero() {
		t.Fatalf("List = %+v, want the built-in (no creation time), then acme", list)
	}
	if f := mustParse(t, string(list[1].Definition)); f.Style() != "python" {
		t.Errorf("listed definition has style %q, want the replacement's python", f.Style())
	}

	if _, err := c.Get(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "acme"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := c.Get(ctx, "acme"); !errors.Is(err, herald.ErrNotFound) {
		t.Errorf("Get after Delete: %v, want ErrNotFound (not the cached format)", err)
	}
	if err := c.Delete(ctx, "acme"); !errors.Is(err, herald.ErrNotFound) {
		t.Errorf("second Delete: %v, want ErrNotFound", err)
	}
}
