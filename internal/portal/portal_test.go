package portal_test

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/portal"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

func TestLinks_ATokenWorksOnEveryNodeUntilItExpires(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		ctx := t.Context()
		clk := clock.NewFake(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
		a := portal.New(&portal.Config{Store: st, Clock: clk})
		b := portal.New(&portal.Config{Store: st, Clock: clk}) // another node, same database
		exp := clk.Now().Add(time.Hour)
		tok, err := a.Token(ctx, "acme.eu", exp)
		if err != nil {
			t.Fatal(err)
		}
		tid, got, err := b.Check(ctx, tok)
		if err != nil || tid != "acme.eu" || !got.Equal(exp) {
			t.Fatalf("Check on another node = %q, %v, %v; want acme.eu, %v", tid, got, err, exp)
		}
		clk.Advance(time.Hour)
		if _, _, err := b.Check(ctx, tok); !errors.Is(err, portal.ErrExpired) || !errors.Is(err, herald.ErrUnauthorized) {
			t.Fatalf("Check at the expiry = %v, want ErrExpired (401)", err)
		}
	})
}

func TestLinks_AChangedTokenIsRefused(t *testing.T) {
	t.Parallel()
	st := dbtest.SQLite(t)
	ctx := t.Context()
	clk := clock.NewFake(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	l := portal.New(&portal.Config{Store: st, Clock: clk})
	tok, err := l.Token(ctx, "acme", clk.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	other := base64.RawURLEncoding.EncodeToString([]byte("globex"))
	later := clk.Now().Add(48 * time.Hour).Unix()
	for name, bad := range map[string]string{
		"another tenant":     strings.Join([]string{parts[0], other, parts[2], parts[3]}, "."),
		"a later expiry":     strings.Join([]string{parts[0], parts[1], strconv.FormatInt(later, 10), parts[3]}, "."),
		"another signature":  strings.Join([]string{parts[0], parts[1], parts[2], base64.RawURLEncoding.EncodeToString(make([]byte, 32))}, "."),
		"another version":    "v2" + strings.TrimPrefix(tok, "v1"),
		"cut short":          strings.Join(parts[:3], "."),
		"empty":              "",
		"padded expiry":      strings.Join([]string{parts[0], parts[1], "0" + parts[2], parts[3]}, "."),
		"not a token at all": "hello",
	} {
		if _, _, err := l.Check(ctx, bad); !errors.Is(err, portal.ErrInvalidToken) || !errors.Is(err, herald.ErrForbidden) {
			t.Errorf("Check of a token with %s = %v, want ErrInvalidToken (403)", name, err)
		}
	}
}

func TestExpiresIn(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{"": time.Hour, "1m": time.Minute, "24h": 24 * time.Hour, "90m": 90 * time.Minute} {
		if got, err := portal.ExpiresIn("body.expires_in", in); err != nil || got != want {
			t.Errorf("ExpiresIn(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"59s", "25h", "-1h", "0", "1 hour", "1d"} {
		var ve *herald.ValidationError
		if _, err := portal.ExpiresIn("body.expires_in", in); !errors.As(err, &ve) || ve.Fields[0].Location != "body.expires_in" {
			t.Errorf("ExpiresIn(%q) = %v, want a fault at body.expires_in", in, err)
		}
	}
}
