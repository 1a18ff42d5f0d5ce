package portal

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/service"
)

// Bounds and default of a link's lifetime (expires_in).
const (
	MinExpiresIn     = time.Minute
	MaxExpiresIn     = 24 * time.Hour
	DefaultExpiresIn = time.Hour
)

// Path is where a link leads on the server: Path?token=<token>.
const Path = "/portal"

// secretSetting is the setting the signing secret is stored under.
const secretSetting = "portal_link_secret"

// tokenVersion starts every token, and what is signed, so a later form
// can be told apart.
const tokenVersion = "v1"

// Config wires Links: the store keeps the secret, the clock decides
// expiry.
type Config = service.Base

// Links makes and checks portal links' tokens.
type Links struct {
	service.Base
	mu     sync.Mutex
	secret []byte // loaded once from the store
}

// New returns Links. It does no I/O: the secret is read (or made) on first
// use.
func New(cfg *Config) *Links {
	return &Links{Base: cfg.Init()}
}

// ErrExpired is a token whose link has expired.
var ErrExpired = herald.Errorf(herald.ErrUnauthorized, "this portal link has expired; ask for a new one")

// ErrInvalidToken is a token Herald did not sign, or one changed since.
var ErrInvalidToken = herald.Errorf(herald.ErrForbidden, "this portal link is not valid; ask for a new one")

// ExpiresIn reads a link's lifetime: "" is DefaultExpiresIn, otherwise a
// Go duration from MinExpiresIn to MaxExpiresIn, or a fault at field.
func ExpiresIn(field, s string) (time.Duration, error) {
	if s == "" {
		return DefaultExpiresIn, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < MinExpiresIn || d > MaxExpiresIn {
		return 0, herald.Invalid(field, "must be a duration from %s to %s, such as 30m or 2h", "1m", "24h")
	}
	return d, nil
}

// key returns the signing secret, made and stored by the first node that
// needs it (32 random bytes, hex); every node then reads the same one.
func (l *Links) key(ctx context.Context) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.secret != nil {
		return l.secret, nil
	}
	var b [32]byte
	rand.Read(b[:]) // never fails: crypto/rand crashes the program rather than return an error
	v, err := l.Store.SettingInit(ctx, secretSetting, hex.EncodeToString(b[:]))
	if err != nil {
		return nil, fmt.Errorf("portal link secret: %w", err)
	}
	sec, err := hex.DecodeString(v)
	if err != nil || len(sec) < 32 {
		return nil, fmt.Errorf("portal link secret: the stored value is not 32 bytes of hex")
	}
	l.secret = sec
	return sec, nil
}

func mac(key []byte, tenantID string, exp int64) []byte {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s\n%s\n%d", tokenVersion, tenantID, exp)
	return m.Sum(nil)
}

// Token signs a link to tenantID's portal that expires at expires (kept
// to the second). The token is URL-safe.
func (l *Links) Token(ctx context.Context, tenantID string, expires time.Time) (string, error) {
	key, err := l.key(ctx)
	if err != nil {
		return "", err
	}
	exp := expires.Unix()
	enc := base64.RawURLEncoding
	return tokenVersion + "." + enc.EncodeToString([]byte(tenantID)) + "." + strconv.FormatInt(exp, 10) + "." +
		enc.EncodeToString(mac(key, tenantID, exp)), nil
}

// Check returns the tenant and expiry of a token Token made:
// ErrInvalidToken for one it did not make (or one changed), ErrExpired
// for one whose time has come.
func (l *Links) Check(ctx context.Context, token string) (tenantID string, expires time.Time, err error) {
	parts := strings.Split(token, ".")
	if len(parts) != 4 || parts[0] != tokenVersion || len(token) > 512 {
		return "", time.Time{}, ErrInvalidToken
	}
	enc := base64.RawURLEncoding
	tid, err1 := enc.DecodeString(parts[1])
	exp, err2 := strconv.ParseInt(parts[2], 10, 64)
	sig, err3 := enc.DecodeString(parts[3])
	if err1 != nil || err2 != nil || err3 != nil || strconv.FormatInt(exp, 10) != parts[2] {
		return "", time.Time{}, ErrInvalidToken
	}
	key, err := l.key(ctx)
	if err != nil {
		return "", time.Time{}, err
	}
	if !hmac.Equal(sig, mac(key, string(tid), exp)) {
		return "", time.Time{}, ErrInvalidToken
	}
	expires = time.Unix(exp, 0).UTC()
	if !l.Clock.Now().Before(expires) {
		return "", time.Time{}, ErrExpired
	}
	return string(tid), expires, nil
}
