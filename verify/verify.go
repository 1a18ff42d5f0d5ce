package verify

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Scheme names, as a format's "signature.scheme" gives them.
const (
	// StandardWebhooks (the default) sends webhook-id, webhook-timestamp and
	// webhook-signature, as the Standard Webhooks specification says.
	StandardWebhooks = "standard-webhooks"
	// Timestamped sends one header "t=<unix>,v1=<hex>[,v1=<hex>...]" signing
	// "{t}.{body}".
	Timestamped = "timestamped"
	// Body sends one header: a prefix and the signature of the body alone.
	Body = "body"
	// BodyThenTimestamp sends a timestamp header and a header with the hex
	// signature of "{body}.{timestamp}".
	BodyThenTimestamp = "body-then-timestamp"
)

// Standard Webhooks header names.
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

// Defaults.
const (
	// DefaultTolerance is how far a timestamp may be from the receiver's
	// clock, either way, before the request is refused.
	DefaultTolerance = 5 * time.Minute
	// DefaultMaxBodySize bounds the body VerifyRequest and Middleware read.
	DefaultMaxBodySize = 10 << 20
	// DefaultPrefix is what the body scheme puts before the signature when the
	// format does not say.
	DefaultPrefix = "sha256="
)

// Errors. Every error Verify returns wraps exactly one of the first five, with
// detail; use errors.Is.
var (
	// ErrMissingHeader: a header the scheme needs is absent or empty.
	ErrMissingHeader = errors.New("missing header")
	// ErrMalformedHeader: a header is present but cannot be parsed, or carries
	// no signature of a version this package knows.
	ErrMalformedHeader = errors.New("malformed header")
	// ErrBadSignature: no signature in the request matches any secret.
	ErrBadSignature = errors.New("bad signature")
	// ErrTimestampTooOld: the signature matches but the timestamp is further in
	// the past than the tolerance (a replay, or a very late retry).
	ErrTimestampTooOld = errors.New("timestamp too old")
	// ErrTimestampTooNew: the signature matches but the timestamp is further in
	// the future than the tolerance (a clock out of step).
	ErrTimestampTooNew = errors.New("timestamp too new")
	// ErrNoSecret: New was given no secret, or an empty one.
	ErrNoSecret = errors.New("no secret")
	// ErrInvalidConfig: New was given a config, secret or option it cannot
	// use.
	ErrInvalidConfig = errors.New("invalid config")
	// ErrBodyTooLarge: the request body is larger than the maximum size.
	ErrBodyTooLarge = errors.New("body too large")
	// ErrMalformedBody: the verified body is not a JSON object (Event only).
	ErrMalformedBody = errors.New("malformed body")
)

// Config is a format's "signature" object; the JSON tags match Herald's, so
// the object can be decoded into it as is.
type Config struct {
	// Scheme is one of the scheme names; empty means StandardWebhooks.
	Scheme string `json:"scheme,omitempty"`
	// Header names the signature header (every scheme but StandardWebhooks).
	Header string `json:"header,omitempty"`
	// TimestampHeader names the timestamp header (BodyThenTimestamp only).
	TimestampHeader string `json:"timestamp_header,omitempty"`
	// Prefix is what precedes the body scheme's signature: nil means
	// DefaultPrefix, new("") means none.
	Prefix *string `json:"prefix,omitempty"`
	// Encoding of the body scheme's signature: "hex" (default) or "base64".
	Encoding string `json:"encoding,omitempty"`
}

// Option changes a Verifier's defaults.
type Option func(*Verifier) error

// WithTolerance sets how far a timestamp may be from the clock, either way
// (default DefaultTolerance). It must be positive, and New refuses it for
// the body scheme, which carries no timestamp to check.
func WithTolerance(d time.Duration) Option {
	return func(v *Verifier) error {
		if d <= 0 {
			return fmt.Errorf("verify: %w: tolerance %v is not positive", ErrInvalidConfig, d)
		}
		if !v.HasTimestamp() {
			return fmt.Errorf("verify: %w: the %s scheme carries no timestamp, so no tolerance can be checked", ErrInvalidConfig, v.scheme)
		}
		v.tolerance = d
		return nil
	}
}

// WithClock sets the clock timestamps are checked against (default
// time.Now).
func WithClock(now func() time.Time) Option {
	return func(v *Verifier) error {
		if now == nil {
			return fmt.Errorf("verify: %w: nil clock", ErrInvalidConfig)
		}
		v.now = now
		return nil
	}
}

// WithMaxBodySize sets the largest body VerifyRequest and Middleware read
// (default DefaultMaxBodySize).
func WithMaxBodySize(n int64) Option {
	return func(v *Verifier) error {
		if n <= 0 {
			return fmt.Errorf("verify: %w: max body size %d is not positive", ErrInvalidConfig, n)
		}
		v.maxBody = n
		return nil
	}
}

// Verifier checks requests signed with one format's scheme. It is safe for
// concurrent use.
type Verifier struct {
	scheme    string
	header    string
	tsHeader  string
	prefix    string
	base64    bool
	keys      [][]byte
	tolerance time.Duration
	now       func() time.Time
	maxBody   int64
}

// New returns a Verifier for the scheme cfg describes that accepts a
// signature made with any of secrets (pass the new and the old secret during
// a rotation). A standard-webhooks secret is "whsec_" and base64; any other
// scheme's secret is used as its bytes, prefix included.
func New(cfg Config, secrets []string, opts ...Option) (*Verifier, error) {
	v := &Verifier{
		scheme:    cfg.Scheme,
		tolerance: DefaultTolerance,
		now:       time.Now,
		maxBody:   DefaultMaxBodySize,
	}
	if v.scheme == "" {
		v.scheme = StandardWebhooks
	}
	if err := v.configure(cfg); err != nil {
		return nil, err
	}
	if len(secrets) == 0 {
		return nil, fmt.Errorf("verify: %w given", ErrNoSecret)
	}
	for i, s := range secrets {
		k, err := key(v.scheme, s)
		if err != nil {
			return nil, fmt.Errorf("verify: secret %d: %w", i+1, err)
		}
		v.keys = append(v.keys, k)
	}
	for _, o := range opts {
		if err := o(v); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// NewStandard returns a Verifier for the default standard-webhooks scheme:
// New with an empty Config.
func NewStandard(secrets []string, opts ...Option) (*Verifier, error) {
	return New(Config{}, secrets, opts...)
}

func (v *Verifier) configure(cfg Config) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("verify: %w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	switch v.scheme {
	case StandardWebhooks:
		if cfg.Header != "" {
			return bad("header does not apply to %s", StandardWebhooks)
		}
	case Timestamped, Body, BodyThenTimestamp:
		if cfg.Header == "" {
			return bad("header is required for %s", v.scheme)
		}
		v.header = cfg.Header
	default:
		return bad("unknown scheme %q", cfg.Scheme)
	}
	if v.scheme == BodyThenTimestamp {
		if cfg.TimestampHeader == "" {
			return bad("timestamp_header is required for %s", BodyThenTimestamp)
		}
		v.tsHeader = cfg.TimestampHeader
	} else if cfg.TimestampHeader != "" {
		return bad("timestamp_header applies to %s only", BodyThenTimestamp)
	}
	if v.scheme == Body {
		v.prefix = DefaultPrefix
		if cfg.Prefix != nil {
			v.prefix = *cfg.Prefix
		}
		switch cfg.Encoding {
		case "", "hex":
		case "base64":
			v.base64 = true
		default:
			return bad("encoding %q is neither hex nor base64", cfg.Encoding)
		}
	} else if cfg.Prefix != nil || cfg.Encoding != "" {
		return bad("prefix and encoding apply to %s only", Body)
	}
	return nil
}

// key is the HMAC key of a secret: for standard-webhooks the base64 after
// "whsec_" decoded (a secret without the prefix is decoded whole, as the
// Standard Webhooks libraries do), otherwise the secret's bytes.
func key(scheme, secret string) ([]byte, error) {
	if secret == "" {
		return nil, fmt.Errorf("%w: empty secret", ErrNoSecret)
	}
	if scheme != StandardWebhooks {
		return []byte(secret), nil
	}
	k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return nil, fmt.Errorf("%w: a standard-webhooks secret is whsec_ followed by base64: %v", ErrInvalidConfig, err)
	}
	if len(k) == 0 {
		return nil, fmt.Errorf("%w: empty secret after whsec_", ErrNoSecret)
	}
	return k, nil
}

// Scheme is the scheme the Verifier checks.
func (v *Verifier) Scheme() string { return v.scheme }

// HasTimestamp reports whether the scheme carries a signed timestamp that
// Verify checks against the tolerance. The body scheme does not: a receiver
// of it has no protection against replays but the event id.
func (v *Verifier) HasTimestamp() bool { return v.scheme != Body }

// Verify checks body and its headers. It returns nil when one of the
// request's signatures matches one of the secrets and, for schemes with a
// timestamp, the timestamp is within the tolerance; otherwise an error that
// wraps ErrMissingHeader, ErrMalformedHeader, ErrBadSignature,
// ErrTimestampTooOld or ErrTimestampTooNew. The signature is checked before
// the timestamp, so a timestamp error means the request is authentic but
// stale (or from a clock out of step).
func (v *Verifier) Verify(body []byte, h http.Header) error {
	var (
		ts  string // the timestamp as signed, "" for the body scheme
		err error
	)
	switch v.scheme {
	case StandardWebhooks:
		ts, err = v.verifyStandard(body, h)
	case Timestamped:
		ts, err = v.verifyTimestamped(body, h)
	case Body:
		err = v.verifyBody(body, h)
	case BodyThenTimestamp:
		ts, err = v.verifyBodyThenTimestamp(body, h)
	}
	if err != nil {
		return err
	}
	if ts == "" {
		return nil
	}
	return v.checkTimestamp(ts)
}

func (v *Verifier) verifyStandard(body []byte, h http.Header) (string, error) {
	id, err := header(h, HeaderWebhookID)
	if err != nil {
		return "", err
	}
	ts, err := header(h, HeaderWebhookTimestamp)
	if err != nil {
		return "", err
	}
	sigHeader, err := header(h, HeaderWebhookSignature)
	if err != nil {
		return "", err
	}
	if _, err := parseUnix(ts); err != nil {
		return "", fmt.Errorf("verify: %w: %s: %v", ErrMalformedHeader, HeaderWebhookTimestamp, err)
	}
	sigs, err := parseStandardSignature(sigHeader)
	if err != nil {
		return "", fmt.Errorf("verify: %w: %s: %v", ErrMalformedHeader, HeaderWebhookSignature, err)
	}
	return ts, v.match(sigs, []byte(id), []byte{'.'}, []byte(ts), []byte{'.'}, body)
}

func (v *Verifier) verifyTimestamped(body []byte, h http.Header) (string, error) {
	value, err := header(h, v.header)
	if err != nil {
		return "", err
	}
	ts, sigs, err := parseTimestamped(value)
	if err != nil {
		return "", fmt.Errorf("verify: %w: %s: %v", ErrMalformedHeader, v.header, err)
	}
	return ts, v.match(sigs, []byte(ts), []byte{'.'}, body)
}

func (v *Verifier) verifyBody(body []byte, h http.Header) error {
	value, err := header(h, v.header)
	if err != nil {
		return err
	}
	sig, err := parseBodySignature(value, v.prefix, v.base64)
	if err != nil {
		return fmt.Errorf("verify: %w: %s: %v", ErrMalformedHeader, v.header, err)
	}
	return v.match([][]byte{sig}, body)
}

func (v *Verifier) verifyBodyThenTimestamp(body []byte, h http.Header) (string, error) {
	ts, err := header(h, v.tsHeader)
	if err != nil {
		return "", err
	}
	value, err := header(h, v.header)
	if err != nil {
		return "", err
	}
	if _, err := parseUnix(ts); err != nil {
		return "", fmt.Errorf("verify: %w: %s: %v", ErrMalformedHeader, v.tsHeader, err)
	}
	sig, err := parseBodySignature(value, "", false)
	if err != nil {
		return "", fmt.Errorf("verify: %w: %s: %v", ErrMalformedHeader, v.header, err)
	}
	return ts, v.match([][]byte{sig}, body, []byte{'.'}, []byte(ts))
}

// match returns nil when any signature equals the HMAC of the parts under
// any key. Every pair is compared in constant time, and all of them are
// compared, so the time taken does not say which (if any) matched.
func (v *Verifier) match(sigs [][]byte, parts ...[]byte) error {
	ok := 0
	for _, k := range v.keys {
		m := hmac.New(sha256.New, k)
		for _, p := range parts {
			m.Write(p)
		}
		want := m.Sum(nil)
		for _, s := range sigs {
			if hmac.Equal(s, want) {
				ok = 1
			}
		}
	}
	if ok == 0 {
		return fmt.Errorf("verify: %w: none of %d signature(s) matches any of %d secret(s)", ErrBadSignature, len(sigs), len(v.keys))
	}
	return nil
}

func (v *Verifier) checkTimestamp(ts string) error {
	sec, err := parseUnix(ts)
	if err != nil { // parsed before the signature was checked; kept for safety
		return fmt.Errorf("verify: %w: timestamp: %v", ErrMalformedHeader, err)
	}
	// Compare at the clock's full precision: a message signed 300 s ago is
	// more than 5 minutes old a nanosecond later, as the Standard Webhooks
	// libraries see it.
	// Each direction is its own Sub, which saturates: negating one
	// difference would overflow for a timestamp far in the future.
	now, signed := v.now(), time.Unix(sec, 0)
	if age := now.Sub(signed); age > v.tolerance {
		return fmt.Errorf("verify: %w: signed at %d, %v ago, tolerance %v", ErrTimestampTooOld, sec, age.Truncate(time.Second), v.tolerance)
	}
	if ahead := signed.Sub(now); ahead > v.tolerance {
		return fmt.Errorf("verify: %w: signed at %d, %v ahead, tolerance %v", ErrTimestampTooNew, sec, ahead.Truncate(time.Second), v.tolerance)
	}
	return nil
}

// header returns a header's first value. Names are matched without regard
// to case, also in a map that was not built with canonical keys (as some
// serverless platforms hand them over).
func header(h http.Header, name string) (string, error) {
	value := h.Get(name)
	if value == "" {
		for k, vs := range h {
			if strings.EqualFold(k, name) && len(vs) > 0 && vs[0] != "" {
				value = vs[0]
				break
			}
		}
	}
	value = strings.TrimSpace(value)
	if value == "" {
		return "", fmt.Errorf("verify: %w: %s", ErrMissingHeader, name)
	}
	return value, nil
}

// VerifyRequest reads r's body (at most the maximum body size), verifies it
// with r's headers and returns it. Whatever the outcome, r.Body is replaced
// so that it can be read again from the start.
func (v *Verifier) VerifyRequest(r *http.Request) ([]byte, error) {
	body, err := v.readBody(r)
	if err != nil {
		return nil, err
	}
	if err := v.Verify(body, r.Header); err != nil {
		return nil, err
	}
	return body, nil
}

func (v *Verifier) readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return []byte{}, nil
	}
	orig := r.Body
	body, err := io.ReadAll(io.LimitReader(orig, v.maxBody+1))
	if err != nil {
		r.Body = readCloser{io.MultiReader(bytes.NewReader(body), orig), orig}
		return nil, fmt.Errorf("verify: read body: %w", err)
	}
	if int64(len(body)) > v.maxBody {
		r.Body = readCloser{io.MultiReader(bytes.NewReader(body), orig), orig}
		return nil, fmt.Errorf("verify: %w: more than %d bytes", ErrBodyTooLarge, v.maxBody)
	}
	_ = orig.Close() // read to EOF already; the replacement needs no closing
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return body, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// Middleware returns a handler that verifies every request before next sees
// it. A request that fails verification gets 401 with a short text/plain
// reason (413 when the body is too large, 400 when it cannot be read) and
// never reaches next; a verified one reaches next with r.Body holding the
// exact bytes that were verified.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := v.VerifyRequest(r); err != nil {
			status, reason := http.StatusUnauthorized, reasonOf(err)
			switch {
			case errors.Is(err, ErrBodyTooLarge):
				status = http.StatusRequestEntityTooLarge
			case reason == "":
				status, reason = http.StatusBadRequest, "cannot read body"
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			w.WriteHeader(status)
			fmt.Fprintf(w, "webhook verification failed: %s\n", reason)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// reasonOf is the kind of a verification error, without the detail (which
// would echo parts of the request back to whoever sent it).
func reasonOf(err error) string {
	for _, kind := range []error{ErrMissingHeader, ErrMalformedHeader, ErrBadSignature,
		ErrTimestampTooOld, ErrTimestampTooNew, ErrBodyTooLarge} {
		if errors.Is(err, kind) {
			return kind.Error()
		}
	}
	return ""
}

// parseUnix parses a timestamp header: Unix seconds as 1 to 18 ASCII digits
// (no sign, no spaces, no fraction).
func parseUnix(s string) (int64, error) {
	if s == "" || len(s) > 18 {
		return 0, fmt.Errorf("%q is not Unix seconds", s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%q is not Unix seconds", s)
		}
	}
	return strconv.ParseInt(s, 10, 64)
}

// parseStandardSignature parses a webhook-signature value: space-separated
// "version,base64" entries. It returns the decoded v1 signatures. Entries of
// other versions (v1a, asymmetric) and v1 entries that do not decode are
// skipped, since a request is valid when any one signature matches; it is an
// error only when no v1 signature is left.
func parseStandardSignature(value string) ([][]byte, error) {
	var sigs [][]byte
	skipped := 0
	for _, entry := range strings.Fields(value) {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			skipped++
			continue
		}
		b, err := base64.StdEncoding.Strict().DecodeString(sig)
		if err != nil || len(b) == 0 {
			skipped++
			continue
		}
		sigs = append(sigs, b)
	}
	if len(sigs) == 0 {
		return nil, fmt.Errorf("no v1 signature in %d entr%s", skipped, plural(skipped, "y", "ies"))
	}
	return sigs, nil
}

// parseTimestamped parses "t=<unix>,v1=<hex>[,v1=<hex>...]". Items may come
// in any order and other keys (v0, ...) are skipped; t must appear exactly
// once. It returns t as written, since that is what was signed, and the
// decoded v1 signatures; v1 values that are not hex are skipped, and it is
// an error when none is left.
func parseTimestamped(value string) (string, [][]byte, error) {
	var (
		ts   string
		seen bool
		sigs [][]byte
	)
	for _, item := range strings.Split(value, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			return "", nil, fmt.Errorf("item %q is not key=value", item)
		}
		switch k {
		case "t":
			if seen {
				return "", nil, errors.New("t appears twice")
			}
			if _, err := parseUnix(val); err != nil {
				return "", nil, fmt.Errorf("t: %w", err)
			}
			ts, seen = val, true
		case "v1":
			b, err := hex.DecodeString(val)
			if err != nil || len(b) == 0 {
				continue
			}
			sigs = append(sigs, b)
		}
	}
	if !seen {
		return "", nil, errors.New("no t=")
	}
	if len(sigs) == 0 {
		return "", nil, errors.New("no v1 signature")
	}
	return ts, sigs, nil
}

// parseBodySignature strips prefix from value and decodes the rest as hex
// or standard base64.
func parseBodySignature(value, prefix string, b64 bool) ([]byte, error) {
	rest, ok := strings.CutPrefix(value, prefix)
	if !ok {
		return nil, fmt.Errorf("does not start with %q", prefix)
	}
	decode, encoding := hex.DecodeString, "hex"
	if b64 {
		decode, encoding = base64.StdEncoding.Strict().DecodeString, "base64"
	}
	b, err := decode(rest)
	if err != nil || strings.ContainsAny(rest, "\r\n") { // the base64 decoder skips these
		return nil, fmt.Errorf("signature is not %s", encoding)
	}
	if len(b) == 0 {
		return nil, errors.New("empty signature")
	}
	return b, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
