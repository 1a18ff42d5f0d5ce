package secretbox_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/secretbox"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, secretbox.KeySize) }

func TestParseKey(t *testing.T) {
	t.Parallel()
	k := key(7)
	for _, s := range []string{
		base64.StdEncoding.EncodeToString(k), base64.RawStdEncoding.EncodeToString(k),
		base64.URLEncoding.EncodeToString(k), " " + base64.StdEncoding.EncodeToString(k) + "\n",
	} {
		got, err := secretbox.ParseKey(s)
		if err != nil || !bytes.Equal(got, k) {
			t.Errorf("ParseKey(%q) = %x, %v; want the 32 bytes", s, got, err)
		}
	}
	for _, bad := range []string{"", "short", base64.StdEncoding.EncodeToString(k[:16]), base64.StdEncoding.EncodeToString(append(k, 1)), "!!!!"} {
		if _, err := secretbox.ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q): no error, want one", bad)
		}
	}
}

func TestKeyringSealsAndOpens(t *testing.T) {
	t.Parallel()
	ring, err := secretbox.NewKeyring(key(1))
	if err != nil {
		t.Fatal(err)
	}
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	a, b := ring.Seal(secret, "ep_1"), ring.Seal(secret, "ep_1")
	if a == b || strings.Contains(a, secret) || strings.Contains(a, "MfKQ9r8G") {
		t.Fatalf("sealed %q and %q: want two different values, neither holding the secret", a, b)
	}
	if id := ring.ID(); id != secretbox.KeyID(key(1)) || !strings.HasPrefix(id, "k") || len(id) != 17 {
		t.Fatalf("ID() = %q, want k and 16 hex digits of the key's id", id)
	}
	if got, err := ring.Open(a, ring.ID(), "ep_1"); err != nil || got != secret {
		t.Fatalf("Open = %q, %v; want the secret", got, err)
	}
	// Bound to its place: copied to another row it does not open.
	if _, err := ring.Open(a, ring.ID(), "ep_2"); !errors.Is(err, secretbox.ErrOpen) {
		t.Errorf("Open at another place: %v, want ErrOpen", err)
	}
	// Altered, it does not open either.
	raw, _ := base64.RawStdEncoding.DecodeString(a)
	raw[len(raw)-1] ^= 1
	if _, err := ring.Open(base64.RawStdEncoding.EncodeToString(raw), ring.ID(), "ep_1"); !errors.Is(err, secretbox.ErrOpen) {
		t.Errorf("Open of an altered value: %v, want ErrOpen", err)
	}
	for _, junk := range []string{"", "AAAA", "not base64!"} {
		if _, err := ring.Open(junk, ring.ID(), "ep_1"); !errors.Is(err, secretbox.ErrOpen) {
			t.Errorf("Open(%q): %v, want ErrOpen", junk, err)
		}
	}
	// A value kept in clear (key id "") reads as it is.
	if got, err := ring.Open("whsec_plain", "", "ep_1"); err != nil || got != "whsec_plain" {
		t.Errorf("Open of a clear value = %q, %v", got, err)
	}
}

func TestKeyringOldKeys(t *testing.T) {
	t.Parallel()
	oldRing, _ := secretbox.NewKeyring(key(1))
	sealed := oldRing.Seal("s3cret", "ep_1")

	newOnly, _ := secretbox.NewKeyring(key(2))
	if _, err := newOnly.Open(sealed, oldRing.ID(), "ep_1"); !errors.Is(err, secretbox.ErrUnknownKey) {
		t.Fatalf("a ring without the old key: %v, want ErrUnknownKey", err)
	}
	if newOnly.Has(oldRing.ID()) || !newOnly.Has(newOnly.ID()) || !newOnly.Has("") {
		t.Errorf("Has: want the ring's own key and clear values only")
	}
	both, err := secretbox.NewKeyring(key(2), key(1))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := both.Open(sealed, oldRing.ID(), "ep_1"); err != nil || got != "s3cret" {
		t.Fatalf("the new ring with the old key: %q, %v", got, err)
	}
	if both.ID() != newOnly.ID() {
		t.Errorf("a ring seals with its first key: ID %s, want %s", both.ID(), newOnly.ID())
	}
	if _, err := secretbox.NewKeyring(key(2), key(2)); err == nil {
		t.Error("the same key twice: no error")
	}
	if _, err := secretbox.NewKeyring(key(2)[:31]); err == nil {
		t.Error("a 31-byte key: no error")
	}
}

func TestNilKeyringKeepsValuesInClear(t *testing.T) {
	t.Parallel()
	var ring *secretbox.Keyring
	if got := ring.Seal("s", "ep_1"); got != "s" || ring.ID() != "" {
		t.Fatalf("nil ring Seal = %q, ID %q; want the value as it is and no id", got, ring.ID())
	}
	if got, err := ring.Open("s", "", "ep_1"); err != nil || got != "s" {
		t.Fatalf("nil ring Open of a clear value = %q, %v", got, err)
	}
	if _, err := ring.Open("s", "k0123456789abcdef", "ep_1"); !errors.Is(err, secretbox.ErrUnknownKey) {
		t.Fatalf("nil ring Open of a sealed value: %v, want ErrUnknownKey", err)
	}
}

func FuzzOpen(f *testing.F) {
	ring, _ := secretbox.NewKeyring(key(3))
	f.Add(ring.Seal("x", "p"), "p")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, sealed, place string) {
		pt, err := ring.Open(sealed, ring.ID(), place)
		if err != nil {
			return
		}
		// Whatever opened must seal and open back to itself.
		if got, err := ring.Open(ring.Seal(pt, place), ring.ID(), place); err != nil || got != pt {
			t.Fatalf("round trip of %q: %q, %v", pt, got, err)
		}
	})
}
