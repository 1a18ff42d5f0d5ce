package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of an encryption key: AES-256.
const KeySize = 32

// ErrUnknownKey is the error of a value sealed under a key the keyring
// does not have (or any sealed value, without a keyring).
var ErrUnknownKey = errors.New("sealed with a key that was not given")

// ErrOpen is the error of a sealed value that does not open under the key
// its id names: it was altered, or moved from where it was sealed.
var ErrOpen = errors.New("does not open: altered, or not sealed for this place")

// ParseKey reads an encryption key as an operator gives it: 32 bytes in
// base64 (standard or URL alphabet, padded or not), such as
// `openssl rand -base64 32` prints.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeySize {
				return nil, fmt.Errorf("the key is %d bytes, want %d random bytes in base64 (openssl rand -base64 32)", len(b), KeySize)
			}
			return b, nil
		}
	}
	return nil, errors.New("the key is not base64; want 32 random bytes in base64 (openssl rand -base64 32)")
}

// KeyID is the id stored beside every value sealed under key: "k" and 16
// hex digits of a SHA-256 of the key. It tells which key opens a value
// without saying anything about the key (the key is 256 random bits).
func KeyID(key []byte) string {
	h := sha256.New()
	h.Write([]byte("herald secretbox key id\x00"))
	h.Write(key)
	return "k" + hex.EncodeToString(h.Sum(nil)[:8])
}

// Keyring seals with its current key and opens with any of its keys. A nil
// *Keyring is no encryption: Seal keeps values as they are, with key id "",
// and Open gives such values back and refuses sealed ones.
type Keyring struct {
	current *sealer
	byID    map[string]*sealer
}

type sealer struct {
	id   string
	aead cipher.AEAD
}

// NewKeyring returns a keyring that seals with current and opens values
// sealed under current or any of old (keys being retired by herald
// rotate-key). Keys are KeySize bytes; the same key twice is refused.
func NewKeyring(current []byte, old ...[]byte) (*Keyring, error) {
	k := &Keyring{byID: map[string]*sealer{}}
	for i, key := range append([][]byte{current}, old...) {
		if len(key) != KeySize {
			return nil, fmt.Errorf("encryption key %d is %d bytes, want %d", i+1, len(key), KeySize)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("encryption key %d: %w", i+1, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("encryption key %d: %w", i+1, err)
		}
		s := &sealer{id: KeyID(key), aead: aead}
		if _, dup := k.byID[s.id]; dup {
			return nil, fmt.Errorf("encryption key %d (%s) is given twice", i+1, s.id)
		}
		k.byID[s.id] = s
		if i == 0 {
			k.current = s
		}
	}
	return k, nil
}

// ID is the id of the key that seals, "" for a nil keyring.
func (k *Keyring) ID() string {
	if k == nil {
		return ""
	}
	return k.current.id
}

// Has reports whether the keyring opens values sealed under the key id;
// "" (a value kept in clear) is always readable.
func (k *Keyring) Has(id string) bool {
	if id == "" {
		return true
	}
	if k == nil {
		return false
	}
	_, ok := k.byID[id]
	return ok
}

// Seal seals plaintext under the current key, bound to place (say, the id
// of the row it is kept in), so that a sealed value copied elsewhere does
// not open. It returns the sealed value, base64 of a random nonce and the
// ciphertext with its tag; store ID() beside it. A nil keyring returns
// plaintext as it is (and ID() is "").
func (k *Keyring) Seal(plaintext, place string) string {
	if k == nil {
		return plaintext
	}
	a := k.current.aead
	buf := make([]byte, a.NonceSize(), a.NonceSize()+len(plaintext)+a.Overhead())
	rand.Read(buf) // never fails: crypto/rand crashes the program rather than return an error
	buf = a.Seal(buf, buf, []byte(plaintext), []byte(place))
	return base64.RawStdEncoding.EncodeToString(buf)
}

// Open returns the plaintext of a value Seal sealed under the key id for
// place. id "" is a value kept in clear, returned as it is. A key the
// keyring lacks is ErrUnknownKey, a value that does not open ErrOpen.
func (k *Keyring) Open(sealed, id, place string) (string, error) {
	if id == "" {
		return sealed, nil
	}
	if !k.Has(id) {
		return "", fmt.Errorf("key %s: %w", id, ErrUnknownKey)
	}
	a := k.byID[id].aead
	raw, err := base64.RawStdEncoding.DecodeString(sealed)
	if err != nil || len(raw) < a.NonceSize()+a.Overhead() {
		return "", fmt.Errorf("key %s: %w", id, ErrOpen)
	}
	nonce, ct := raw[:a.NonceSize()], raw[a.NonceSize():]
	pt, err := a.Open(nil, nonce, ct, []byte(place))
	if err != nil {
		return "", fmt.Errorf("key %s: %w", id, ErrOpen)
	}
	return string(pt), nil
}
