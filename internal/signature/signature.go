package signature

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/header"
)

// Scheme names, as a format's "signature.scheme" gives them.
const (
	// StandardWebhooks signs "{msg_id}.{timestamp}.{body}" and sends
	// webhook-id, webhook-timestamp and webhook-signature ("v1,<base64>", one
	// per active secret). It is the default scheme.
	StandardWebhooks = "standard-webhooks"
	// Timestamped signs "{timestamp}.{body}" and sends one header
	// "t=<timestamp>,v1=<hex>", with one v1 per active secret.
	Timestamped = "timestamped"
	// Body signs the body alone and sends one header: prefix + hex or base64.
	Body = "body"
	// BodyThenTimestamp signs "{body}.{timestamp}" and sends the timestamp
	// and the hex signature in two headers.
	BodyThenTimestamp = "body-then-timestamp"
)

// Standard Webhooks header names, as the specification writes them.
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

// DefaultPrefix is what the body scheme puts before the signature when the
// format does not say.
const DefaultPrefix = "sha256="

// Encodings of the body scheme's signature.
const (
	EncodingHex    = "hex"
	EncodingBase64 = "base64"
)

// secretPrefix starts every Standard Webhooks secret and every secret Herald
// generates.
const secretPrefix = "whsec_"

// Limits on a user-supplied secret.
const (
	minStandardKeyBytes = 24
	maxStandardKeyBytes = 64
	minSecretLen        = 8
	maxSecretLen        = 256
	maxPrefixLen        = 64
)

// Config is a format's "signature" object.
type Config struct {
	// Scheme is one of the scheme names; empty means StandardWebhooks.
	Scheme string `json:"scheme,omitempty"`
	// Header names the signature header (every scheme but StandardWebhooks).
	Header string `json:"header,omitempty"`
	// TimestampHeader names the timestamp header (BodyThenTimestamp only).
	TimestampHeader string `json:"timestamp_header,omitempty"`
	// Prefix goes before the body scheme's signature; nil means DefaultPrefix
	// and a pointer to "" means none.
	Prefix *string `json:"prefix,omitempty"`
	// Encoding of the body scheme's signature: "hex" (default) or "base64".
	Encoding string `json:"encoding,omitempty"`
}

// SchemeName is the scheme in effect: Scheme, or StandardWebhooks when it is
// empty or the config is nil.
func (c *Config) SchemeName() string {
	if c == nil || c.Scheme == "" {
		return StandardWebhooks
	}
	return c.Scheme
}

// Validate checks the config. Errors are *herald.ValidationError with one
// field per fault, located relative to the signature object ("scheme",
// "header", "timestamp_header", "prefix", "encoding").
func (c *Config) Validate() error {
	if c == nil {
		return nil
	}
	var fields []herald.FieldError
	add := func(loc, msg string, args ...any) {
		fields = append(fields, herald.FieldError{Location: loc, Message: fmt.Sprintf(msg, args...)})
	}
	scheme := c.SchemeName()
	switch scheme {
	case StandardWebhooks, Timestamped, Body, BodyThenTimestamp:
	default:
		add("scheme", "must be one of %q, %q, %q or %q", StandardWebhooks, Timestamped, Body, BodyThenTimestamp)
		return &herald.ValidationError{Fields: fields}
	}

	// A field the scheme does not use is refused rather than ignored: whoever
	// set it expects it on the wire, and the receiver would not find it there.
	if scheme == StandardWebhooks {
		if c.Header != "" {
			add("header", "does not apply to %s, whose headers are always %s, %s and %s",
				scheme, HeaderWebhookID, HeaderWebhookTimestamp, HeaderWebhookSignature)
		}
	} else {
		checkHeaderName(c.Header, "header", scheme, add)
	}
	if scheme == BodyThenTimestamp {
		checkHeaderName(c.TimestampHeader, "timestamp_header", scheme, add)
		if c.Header != "" && strings.EqualFold(c.Header, c.TimestampHeader) {
			add("timestamp_header", "must differ from header")
		}
	} else if c.TimestampHeader != "" {
		add("timestamp_header", "applies to %s only", BodyThenTimestamp)
	}
	if scheme == Body {
		switch c.Encoding {
		case "", EncodingHex, EncodingBase64:
		default:
			add("encoding", "must be %q or %q", EncodingHex, EncodingBase64)
		}
		if c.Prefix != nil {
			if msg := prefixProblem(*c.Prefix); msg != "" {
				add("prefix", "%s", msg)
			}
		}
	} else {
		if c.Encoding != "" {
			add("encoding", "applies to %s only", Body)
		}
		if c.Prefix != nil {
			add("prefix", "applies to %s only", Body)
		}
	}
	if len(fields) > 0 {
		return &herald.ValidationError{Fields: fields}
	}
	return nil
}

func checkHeaderName(name, loc, scheme string, add func(string, string, ...any)) {
	switch {
	case name == "":
		add(loc, "is required for %s", scheme)
	case !header.ValidName(name):
		add(loc, "%q is not a valid HTTP header name", name)
	case header.Transport(name):
		add(loc, "%q is a transport header and cannot carry a signature", name)
	}
}

// prefixProblem says what is wrong with a body-scheme prefix, or "" when
// nothing is. The prefix starts a header value, so it must be visible ASCII
// (a space inside is allowed, but HTTP would strip one at the start).
func prefixProblem(p string) string {
	if len(p) > maxPrefixLen {
		return fmt.Sprintf("must be at most %d characters", maxPrefixLen)
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] > 0x7e {
			return "must be printable ASCII"
		}
	}
	if strings.HasPrefix(p, " ") {
		return "must not start with a space"
	}
	return ""
}

// SupportsMultipleSecrets reports whether the scheme can carry one signature
// per active secret (StandardWebhooks and Timestamped), and so whether a
// secret rotation can have a grace period.
func (c *Config) SupportsMultipleSecrets() bool {
	switch c.SchemeName() {
	case StandardWebhooks, Timestamped:
		return true
	}
	return false
}

// CheckRotationGrace returns nil when the scheme allows a rotation grace
// period, and otherwise a *herald.ValidationError at location explaining
// why it does not.
func (c *Config) CheckRotationGrace(location string) error {
	if c.SupportsMultipleSecrets() {
		return nil
	}
	return herald.Invalid(location,
		"the %s scheme has room for one signature only, so a rotation takes effect at once and cannot have a grace period", c.SchemeName())
}

// HasTimestamp reports whether the scheme signs and sends a timestamp that a
// receiver can check for freshness (every scheme but Body).
func (c *Config) HasTimestamp() bool { return c.SchemeName() != Body }

// HeaderNames lists, in canonical form, the headers Sign sets for this
// config, so that nothing else overwrites them.
func (c *Config) HeaderNames() []string {
	switch c.SchemeName() {
	case StandardWebhooks:
		return []string{
			http.CanonicalHeaderKey(HeaderWebhookID),
			http.CanonicalHeaderKey(HeaderWebhookTimestamp),
			http.CanonicalHeaderKey(HeaderWebhookSignature),
		}
	case BodyThenTimestamp:
		return []string{http.CanonicalHeaderKey(c.TimestampHeader), http.CanonicalHeaderKey(c.Header)}
	default:
		return []string{http.CanonicalHeaderKey(c.Header)}
	}
}

// Sign returns the headers to set for one attempt. secrets are the active
// secrets, newest first; schemes with room for one signature use the first
// only. msgID is the event id (the Standard Webhooks webhook-id). ts is the
// moment of the attempt; its Unix seconds are signed and sent.
func Sign(c *Config, secrets []string, msgID string, ts time.Time, body []byte) (http.Header, error) {
	h := make(http.Header, 3)
	if err := SignTo(h, c, secrets, msgID, ts, body); err != nil {
		return nil, err
	}
	return h, nil
}

// Canonical forms of the Standard Webhooks header names, so that setting
// them does not canonicalise them again on every attempt.
var (
	canonicalWebhookID        = http.CanonicalHeaderKey(HeaderWebhookID)
	canonicalWebhookTimestamp = http.CanonicalHeaderKey(HeaderWebhookTimestamp)
	canonicalWebhookSignature = http.CanonicalHeaderKey(HeaderWebhookSignature)
)

// scratch holds the signed message (and the MACs after it) while an
// attempt is signed: one buffer reused across attempts instead of a
// conversion of each part and a sum per secret every time.
var scratch = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// maxScratch is the largest buffer kept for reuse; a bigger body's is
// left to the garbage collector, so one large delivery does not pin its
// size in memory.
const maxScratch = 64 << 10

// SignTo is Sign writing the signature headers into h, replacing any of
// the same names there and leaving the rest, so that an attempt builds one
// header map rather than merging a second one into it. On an error h is
// unchanged.
func SignTo(h http.Header, c *Config, secrets []string, msgID string, ts time.Time, body []byte) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	if len(secrets) == 0 {
		return errors.New("sign: no secret")
	}
	scheme := c.SchemeName()
	if !c.SupportsMultipleSecrets() {
		secrets = secrets[:1]
	}
	// Mostly one or two secrets are active (the new and, during a
	// rotation's grace, the previous), so the keys fit here without an
	// allocation; a few rotations in one grace period make more.
	var keyBuf [2][]byte
	keys := keyBuf[:0]
	for i, s := range secrets {
		k, err := Key(scheme, s)
		if err != nil {
			return fmt.Errorf("sign: secret %d: %w", i+1, err)
		}
		keys = append(keys, k)
	}
	if scheme == StandardWebhooks {
		if err := checkMsgID(msgID); err != nil {
			return fmt.Errorf("sign: %w", err)
		}
	}
	unix := strconv.FormatInt(ts.Unix(), 10)

	// The signed message is the same for every key: write it once.
	sp := scratch.Get().(*[]byte)
	msg := (*sp)[:0]
	switch scheme {
	case StandardWebhooks:
		msg = append(append(append(append(append(msg, msgID...), '.'), unix...), '.'), body...)
	case Timestamped:
		msg = append(append(append(msg, unix...), '.'), body...)
	case Body:
		msg = append(msg, body...)
	case BodyThenTimestamp:
		msg = append(append(append(msg, body...), '.'), unix...)
	}
	// mac is the message's HMAC-SHA256 under key, written after the
	// message in the scratch buffer and valid until the next call.
	mac := func(key []byte) []byte {
		m := hmac.New(sha256.New, key)
		m.Write(msg)
		return m.Sum(msg[len(msg):len(msg)])
	}

	switch scheme {
	case StandardWebhooks:
		// "v1,<base64>" for each key, separated by spaces, in one string.
		one := len("v1,") + base64.StdEncoding.EncodedLen(sha256.Size)
		sig := make([]byte, 0, len(keys)*(one+1))
		for i, k := range keys {
			if i > 0 {
				sig = append(sig, ' ')
			}
			sig = append(sig, "v1,"...)
			sig = base64.StdEncoding.AppendEncode(sig, mac(k))
		}
		vals := []string{msgID, unix, string(sig)}
		h[canonicalWebhookID] = vals[0:1:1]
		h[canonicalWebhookTimestamp] = vals[1:2:2]
		h[canonicalWebhookSignature] = vals[2:3:3]
	case Timestamped:
		sig := make([]byte, 0, len("t=")+len(unix)+len(keys)*(len(",v1=")+hex.EncodedLen(sha256.Size)))
		sig = append(append(sig, "t="...), unix...)
		for _, k := range keys {
			sig = hex.AppendEncode(append(sig, ",v1="...), mac(k))
		}
		h.Set(c.Header, string(sig))
	case Body:
		prefix := DefaultPrefix
		if c.Prefix != nil {
			prefix = *c.Prefix
		}
		sig := append(make([]byte, 0, len(prefix)+base64.StdEncoding.EncodedLen(sha256.Size)+sha256.Size), prefix...)
		if c.Encoding == EncodingBase64 {
			sig = base64.StdEncoding.AppendEncode(sig, mac(keys[0]))
		} else {
			sig = hex.AppendEncode(sig, mac(keys[0]))
		}
		h.Set(c.Header, string(sig))
	case BodyThenTimestamp:
		h.Set(c.TimestampHeader, unix)
		h.Set(c.Header, hex.EncodeToString(mac(keys[0])))
	}

	if cap(msg) <= maxScratch {
		*sp = msg[:0]
		scratch.Put(sp)
	}
	return nil
}

// checkMsgID refuses a message id that cannot travel in the webhook-id
// header exactly as signed: an empty one, one with control characters (the
// HTTP client would refuse the request) or with blanks at either end (the
// receiver's HTTP stack would strip them and sign something else).
func checkMsgID(id string) error {
	if id == "" {
		return errors.New("standard-webhooks needs a message id")
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x20 || id[i] == 0x7f {
			return fmt.Errorf("message id %q has a control character", id)
		}
	}
	if strings.TrimSpace(id) != id {
		return fmt.Errorf("message id %q starts or ends with a blank", id)
	}
	return nil
}

// Key returns the HMAC key of a secret under a scheme: for StandardWebhooks
// the base64-decoded part after "whsec_" (as the Standard Webhooks libraries
// do, a secret without the prefix is decoded whole); for every other scheme
// the secret's own bytes, prefix included.
func Key(scheme, secret string) ([]byte, error) {
	if secret == "" {
		return nil, errors.New("empty secret")
	}
	if scheme != StandardWebhooks && scheme != "" {
		return []byte(secret), nil
	}
	k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, secretPrefix))
	if err != nil {
		return nil, fmt.Errorf("standard-webhooks secret is not whsec_ followed by base64: %w", err)
	}
	if len(k) == 0 {
		return nil, errors.New("standard-webhooks secret has an empty key")
	}
	return k, nil
}

// GenerateSecret returns a new secret: "whsec_" and the standard base64 of
// 32 random bytes. It is valid for every scheme.
func GenerateSecret() string {
	var b [32]byte
	rand.Read(b[:]) // never fails: crypto/rand crashes the program rather than return an error
	return secretPrefix + base64.StdEncoding.EncodeToString(b[:])
}

// SecretFor returns the secret to sign for scheme with: secret itself when
// it suits the scheme (ValidateSecret), or a generated one when secret is
// empty, as a new endpoint, a rotation and herald send-test take one.
func SecretFor(scheme, secret string) (string, error) {
	if secret == "" {
		return GenerateSecret(), nil
	}
	if err := ValidateSecret(scheme, secret); err != nil {
		return "", err
	}
	return secret, nil
}

// ValidateSecret checks a user-supplied secret for a scheme (empty means
// StandardWebhooks). A StandardWebhooks secret is "whsec_" and the standard
// base64 of 24 to 64 bytes; any other scheme takes 8 to 256 printable ASCII
// characters that neither start nor end with a space. Errors are
// *herald.ValidationError located at "secret" (or "scheme" for an unknown
// scheme).
func ValidateSecret(scheme, secret string) error {
	switch scheme {
	case "", StandardWebhooks:
		rest, ok := strings.CutPrefix(secret, secretPrefix)
		if !ok {
			return herald.Invalid("secret", "must start with %q for the %s scheme", secretPrefix, StandardWebhooks)
		}
		// The decoder skips \r and \n; a secret is one line, so refuse them.
		k, err := base64.StdEncoding.Strict().DecodeString(rest)
		if err != nil || strings.ContainsAny(rest, "\r\n") {
			return herald.Invalid("secret", "must be %q followed by standard base64 (with padding)", secretPrefix)
		}
		if len(k) < minStandardKeyBytes || len(k) > maxStandardKeyBytes {
			return herald.Invalid("secret", "must encode %d to %d bytes, not %d", minStandardKeyBytes, maxStandardKeyBytes, len(k))
		}
		return nil
	case Timestamped, Body, BodyThenTimestamp:
		if len(secret) < minSecretLen || len(secret) > maxSecretLen {
			return herald.Invalid("secret", "must be %d to %d characters, not %d", minSecretLen, maxSecretLen, len(secret))
		}
		for i := 0; i < len(secret); i++ {
			if secret[i] < 0x20 || secret[i] > 0x7e {
				return herald.Invalid("secret", "must be printable ASCII")
			}
		}
		if secret[0] == ' ' || secret[len(secret)-1] == ' ' {
			return herald.Invalid("secret", "must not start or end with a space")
		}
		return nil
	}
	return herald.Invalid("scheme", "unknown signature scheme %q", scheme)
}
