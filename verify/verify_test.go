package verify

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// vector is one entry of testdata/vectors.json.
type vector struct {
	Name      string            `json:"name"`
	Source    string            `json:"source"`
	Config    json.RawMessage   `json:"config"`
	Secrets   []string          `json:"secrets"`
	MsgID     string            `json:"msg_id"`
	Timestamp int64             `json:"timestamp"`
	Body      string            `json:"body"`
	Headers   map[string]string `json:"headers"`
}

func loadVectors(t *testing.T) []vector {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Vectors []vector }
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("decode vectors: %v", err)
	}
	if len(doc.Vectors) == 0 {
		t.Fatal("no vectors in testdata/vectors.json")
	}
	return doc.Vectors
}

func (vec vector) config(t *testing.T) Config {
	t.Helper()
	var c Config
	if err := json.Unmarshal(vec.Config, &c); err != nil {
		t.Fatalf("%s: decode config: %v", vec.Name, err)
	}
	return c
}

func (vec vector) header() http.Header {
	h := http.Header{}
	for k, v := range vec.Headers {
		h.Set(k, v)
	}
	return h
}

func clockAt(sec int64) Option {
	return WithClock(func() time.Time { return time.Unix(sec, 0) })
}

func mustNew(t *testing.T, c Config, secrets []string, opts ...Option) *Verifier {
	t.Helper()
	v, err := New(c, secrets, opts...)
	if err != nil {
		t.Fatalf("New(%+v): %v", c, err)
	}
	return v
}

func TestVectors(t *testing.T) {
	t.Parallel()
	for _, vec := range loadVectors(t) {
		t.Run(vec.Name, func(t *testing.T) {
			t.Parallel()
			c := vec.config(t)
			v := mustNew(t, c, vec.Secrets, clockAt(vec.Timestamp))
			if err := v.Verify([]byte(vec.Body), vec.header()); err != nil {
				t.Fatalf("Verify with all the vector's secrets: %v, want nil", err)
			}

			// During a rotation each secret alone verifies when the scheme
			// carries one signature per secret; otherwise only the first
			// (newest) one signed.
			multi := v.scheme == StandardWebhooks || v.scheme == Timestamped
			for i, s := range vec.Secrets {
				err := mustNew(t, c, []string{s}, clockAt(vec.Timestamp)).Verify([]byte(vec.Body), vec.header())
				switch {
				case i == 0 || multi:
					if err != nil {
						t.Errorf("Verify with secret %d alone: %v, want nil", i+1, err)
					}
				case !errors.Is(err, ErrBadSignature):
					t.Errorf("Verify with secret %d alone: %v, want ErrBadSignature (one signature only)", i+1, err)
				}
			}

			err := v.Verify([]byte(vec.Body+" "), vec.header())
			if !errors.Is(err, ErrBadSignature) {
				t.Errorf("Verify of the body with a space appended: %v, want ErrBadSignature", err)
			}
			err = mustNew(t, c, []string{"whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 32))}, clockAt(vec.Timestamp)).
				Verify([]byte(vec.Body), vec.header())
			if !errors.Is(err, ErrBadSignature) {
				t.Errorf("Verify with an unrelated secret: %v, want ErrBadSignature", err)
			}
		})
	}
}

// The body of the test vectors is 117 bytes, and its python-style form is
// the one docs/formats.md prints under "Test vectors"; if the file drifted,
// the vectors would test something else.
func TestVectors_Bodies(t *testing.T) {
	t.Parallel()
	const compact = `{"id":"evt_01","type":"user.created","timestamp":"2026-01-02T03:04:05.000000Z","data":{"id":"usr_789","name":"Zoë"}}`
	const python = `{"id": "evt_01", "type": "user.created", "timestamp": "2026-01-02T03:04:05.000000Z", "data": {"id": "usr_789", "name": "Zo\u00eb"}}`
	if len(compact) != 117 {
		t.Fatalf("compact body is %d bytes, docs/formats.md says 117", len(compact))
	}
	for _, vec := range loadVectors(t) {
		if vec.Timestamp == 1767323045 && vec.Body != compact && vec.Body != python && vec.Body != "" {
			t.Errorf("%s: body %q is neither of the bodies docs/formats.md shows", vec.Name, vec.Body)
		}
	}
}

// The Standard Webhooks Go library's own test scenarios, on a fixed clock.
func TestStandardWebhooksLibraryScenarios(t *testing.T) {
	t.Parallel()
	const (
		secret  = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		msgID   = "msg_p5jXN8AQM9LWM0D4loKWxJek"
		ts      = 1614265330
		payload = `{"test": 2432232314}`
		valid   = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
		invalid = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
	)
	headers := func(mod func(http.Header)) http.Header {
		h := http.Header{}
		h.Set("webhook-id", msgID)
		h.Set("webhook-timestamp", strconv.Itoa(ts))
		h.Set("webhook-signature", valid)
		if mod != nil {
			mod(h)
		}
		return h
	}
	at := func(d time.Duration) Option {
		return WithClock(func() time.Time { return time.Unix(ts, 0).Add(d) })
	}
	tests := []struct {
		name  string
		h     http.Header
		clock Option
		want  error
	}{
		{"valid signature is valid", headers(nil), at(0), nil},
		{"missing id", headers(func(h http.Header) { h.Del("webhook-id") }), at(0), ErrMissingHeader},
		{"missing timestamp", headers(func(h http.Header) { h.Del("webhook-timestamp") }), at(0), ErrMissingHeader},
		{"missing signature", headers(func(h http.Header) { h.Del("webhook-signature") }), at(0), ErrMissingHeader},
		{"invalid signature", headers(func(h http.Header) { h.Set("webhook-signature", invalid) }), at(0), ErrBadSignature},
		{"partial signature v1,", headers(func(h http.Header) { h.Set("webhook-signature", "v1,") }), at(0), ErrMalformedHeader},
		{"old timestamp", headers(nil), at(DefaultTolerance + time.Nanosecond), ErrTimestampTooOld},
		{"exactly the tolerance old", headers(nil), at(DefaultTolerance), nil},
		{"new timestamp", headers(nil), at(-DefaultTolerance - time.Second), ErrTimestampTooNew},
		{"exactly the tolerance ahead", headers(nil), at(-DefaultTolerance), nil},
		{"valid multi sig is valid", headers(func(h http.Header) {
			h.Set("webhook-signature", strings.Join([]string{invalid, "v2," + invalid[3:], valid, invalid}, " "))
		}), at(0), nil},
		{"multi sig all invalid", headers(func(h http.Header) {
			h.Set("webhook-signature", strings.Join([]string{invalid, "v2," + valid[3:], "v1a," + valid[3:]}, " "))
		}), at(0), ErrBadSignature},
		{"valid signature beside garbage entries", headers(func(h http.Header) {
			h.Set("webhook-signature", "garbage v1,!!! v1, "+valid)
		}), at(0), nil},
		{"only a v2 signature", headers(func(h http.Header) { h.Set("webhook-signature", "v2,"+valid[3:]) }), at(0), ErrMalformedHeader},
		{"timestamp not a number", headers(func(h http.Header) { h.Set("webhook-timestamp", "yesterday") }), at(0), ErrMalformedHeader},
		{"negative timestamp", headers(func(h http.Header) { h.Set("webhook-timestamp", "-1614265330") }), at(0), ErrMalformedHeader},
		{"timestamp in milliseconds", headers(func(h http.Header) { h.Set("webhook-timestamp", "1614265330000") }), at(0), ErrBadSignature},
		{"timestamp changed", headers(func(h http.Header) { h.Set("webhook-timestamp", "1614265331") }), at(0), ErrBadSignature},
		{"id changed", headers(func(h http.Header) { h.Set("webhook-id", "msg_other") }), at(0), ErrBadSignature},
		{"empty signature header", headers(func(h http.Header) { h.Set("webhook-signature", " ") }), at(0), ErrMissingHeader},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := mustNew(t, Config{}, []string{secret}, tc.clock)
			err := v.Verify([]byte(payload), tc.h)
			if tc.want == nil && err != nil || !errors.Is(err, tc.want) {
				t.Fatalf("Verify: %v, want %v", err, tc.want)
			}
		})
	}
}

// A signature that verifies but carries a stale or future timestamp is
// refused for every scheme that has one; a far-future timestamp must not
// slip through an overflow.
func TestTimestampTolerance(t *testing.T) {
	t.Parallel()
	body := []byte(`{"id":"evt_1"}`)
	key := []byte("test_secret_123")
	hexmac := func(parts ...string) string {
		m := hmac.New(sha256.New, key)
		for _, p := range parts {
			m.Write([]byte(p))
		}
		return hex.EncodeToString(m.Sum(nil))
	}
	const now = 1767323045
	type scheme struct {
		cfg  Config
		sign func(ts string) http.Header
	}
	schemes := []scheme{
		{Config{Scheme: Timestamped, Header: "X-Sig"}, func(ts string) http.Header {
			return http.Header{"X-Sig": {"t=" + ts + ",v1=" + hexmac(ts, ".", string(body))}}
		}},
		{Config{Scheme: BodyThenTimestamp, Header: "X-Sig", TimestampHeader: "X-Ts"}, func(ts string) http.Header {
			return http.Header{"X-Sig": {hexmac(string(body), ".", ts)}, "X-Ts": {ts}}
		}},
	}
	tests := []struct {
		name      string
		ts        int64
		tolerance time.Duration
		want      error
	}{
		{"now", now, 0, nil},
		{"4m59s old", now - 299, 0, nil},
		{"5m1s old", now - 301, 0, ErrTimestampTooOld},
		{"5m1s ahead", now + 301, 0, ErrTimestampTooNew},
		{"5m1s old within 10m", now - 301, 10 * time.Minute, nil},
		{"11m ahead beyond 10m", now + 660, 10 * time.Minute, ErrTimestampTooNew},
		{"30s old beyond 10s", now - 30, 10 * time.Second, ErrTimestampTooOld},
		{"zero", 0, 0, ErrTimestampTooOld},
		{"far future", 999999999999999999, 0, ErrTimestampTooNew},
	}
	for _, s := range schemes {
		for _, tc := range tests {
			t.Run(s.cfg.Scheme+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				opts := []Option{clockAt(now)}
				if tc.tolerance != 0 {
					opts = append(opts, WithTolerance(tc.tolerance))
				}
				v := mustNew(t, s.cfg, []string{string(key)}, opts...)
				err := v.Verify(body, s.sign(strconv.FormatInt(tc.ts, 10)))
				if tc.want == nil && err != nil || !errors.Is(err, tc.want) {
					t.Fatalf("Verify: %v, want %v", err, tc.want)
				}
			})
		}
	}
}

func TestTimestamped(t *testing.T) {
	t.Parallel()
	const (
		secret = "whsec_test_secret"
		ts     = "1767323045"
		good   = "3a1427b21e60369b25ea17452321800f7a53dcfe93a91f582ee897f5ad464d60"
		other  = "17a2ca3cb8b907a10eee8ae30ea4b93e0cbf53c4f5e01cd23f65a788baf59fa3"
	)
	body := []byte(`{"id":"evt_01","type":"user.created","timestamp":"2026-01-02T03:04:05.000000Z","data":{"id":"usr_789","name":"Zoë"}}`)
	tests := []struct {
		name, value string
		want        error
	}{
		{"docs/formats.md vector", "t=" + ts + ",v1=" + good, nil},
		{"uppercase hex", "t=" + ts + ",v1=" + strings.ToUpper(good), nil},
		{"v1 before t", "v1=" + good + ",t=" + ts, nil},
		{"spaces after commas", "t=" + ts + ", v1=" + good, nil},
		{"second of two v1 matches", "t=" + ts + ",v1=" + other + ",v1=" + good, nil},
		{"v0 test signature ignored", "t=" + ts + ",v0=abc,v1=" + good, nil},
		{"non-hex v1 beside a good one", "t=" + ts + ",v1=zz,v1=" + good, nil},
		{"only the other secret's", "t=" + ts + ",v1=" + other, ErrBadSignature},
		{"truncated signature", "t=" + ts + ",v1=" + good[:62], ErrBadSignature},
		{"other timestamp", "t=1767323046,v1=" + good, ErrBadSignature},
		{"no t", "v1=" + good, ErrMalformedHeader},
		{"two t", "t=" + ts + ",t=" + ts + ",v1=" + good, ErrMalformedHeader},
		{"t not a number", "t=abc,v1=" + good, ErrMalformedHeader},
		{"no v1", "t=" + ts, ErrMalformedHeader},
		{"bare v1=", "t=" + ts + ",v1=", ErrMalformedHeader},
		{"only non-hex v1", "t=" + ts + ",v1=xyz", ErrMalformedHeader},
		{"item without =", "t=" + ts + ",v1=" + good + ",junk", ErrMalformedHeader},
		{"standard-webhooks style value", "v1,OjEnshpgNpsl6hdFIyGADnpT3P6TqR9YLuiX9a1GTWA=", ErrMalformedHeader},
		{"empty", "", ErrMissingHeader},
	}
	v := mustNew(t, Config{Scheme: Timestamped, Header: "X-Clearway-Signature"}, []string{secret}, clockAt(1767323045))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := v.Verify(body, http.Header{"X-Clearway-Signature": {tc.value}})
			if tc.want == nil && err != nil || !errors.Is(err, tc.want) {
				t.Fatalf("Verify(%q): %v, want %v", tc.value, err, tc.want)
			}
		})
	}
}

func TestBody(t *testing.T) {
	t.Parallel()
	const good = "5da44edd81a294661165692a1ce08c11728607e04812c60b1e9390748e8bc1c9"
	raw, _ := hex.DecodeString(good)
	b64 := base64.StdEncoding.EncodeToString(raw)
	body := []byte(`{"id":"evt_01","type":"user.created","timestamp":"2026-01-02T03:04:05.000000Z","data":{"id":"usr_789","name":"Zoë"}}`)
	empty := ""
	custom := "v0="
	tests := []struct {
		name  string
		cfg   Config
		value string
		want  error
	}{
		{"default prefix", Config{}, "sha256=" + good, nil},
		{"uppercase hex", Config{}, "sha256=" + strings.ToUpper(good), nil},
		{"no prefix when one is expected", Config{}, good, ErrMalformedHeader},
		{"other prefix", Config{}, "sha1=" + good, ErrMalformedHeader},
		{"bare prefix", Config{}, "sha256=", ErrMalformedHeader},
		{"not hex", Config{}, "sha256=" + b64, ErrMalformedHeader},
		{"wrong signature", Config{}, "sha256=" + strings.Repeat("0", 64), ErrBadSignature},
		{"empty prefix", Config{Prefix: &empty}, good, nil},
		{"custom prefix", Config{Prefix: &custom}, "v0=" + good, nil},
		{"base64", Config{Prefix: &empty, Encoding: "base64"}, b64, nil},
		{"base64 given hex", Config{Prefix: &empty, Encoding: "base64"}, good, ErrBadSignature},
		{"base64 not base64", Config{Prefix: &empty, Encoding: "base64"}, "!!!", ErrMalformedHeader},
		{"missing", Config{}, "", ErrMissingHeader},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.cfg.Scheme, tc.cfg.Header = Body, "X-Webhook-Signature"
			v := mustNew(t, tc.cfg, []string{"your_webhook_secret"})
			if v.HasTimestamp() {
				t.Error("HasTimestamp() = true for the body scheme, want false")
			}
			err := v.Verify(body, http.Header{"X-Webhook-Signature": {tc.value}})
			if tc.want == nil && err != nil || !errors.Is(err, tc.want) {
				t.Fatalf("Verify(%q): %v, want %v", tc.value, err, tc.want)
			}
		})
	}
}

func TestBodyThenTimestamp(t *testing.T) {
	t.Parallel()
	const sig = "e48fdd17055a2f066398bc911d42d53a0b3408ab4a6a0d06c8d4028b3ce6f7b6"
	body := []byte(`{"id": "evt_01", "type": "user.created", "timestamp": "2026-01-02T03:04:05.000000Z", "data": {"id": "usr_789", "name": "Zo\u00eb"}}`)
	v := mustNew(t, Config{Scheme: BodyThenTimestamp, Header: "Clasp-Event-Signature", TimestampHeader: "Clasp-Event-Timestamp"},
		[]string{"clasp_secret"}, clockAt(1767323045))
	tests := []struct {
		name string
		h    http.Header
		want error
	}{
		{"docs/formats.md vector", http.Header{"Clasp-Event-Signature": {sig}, "Clasp-Event-Timestamp": {"1767323045"}}, nil},
		{"missing timestamp", http.Header{"Clasp-Event-Signature": {sig}}, ErrMissingHeader},
		{"missing signature", http.Header{"Clasp-Event-Timestamp": {"1767323045"}}, ErrMissingHeader},
		{"timestamp changed", http.Header{"Clasp-Event-Signature": {sig}, "Clasp-Event-Timestamp": {"1767323046"}}, ErrBadSignature},
		{"timestamp malformed", http.Header{"Clasp-Event-Signature": {sig}, "Clasp-Event-Timestamp": {"2026-01-02"}}, ErrMalformedHeader},
		{"signature with a prefix", http.Header{"Clasp-Event-Signature": {"sha256=" + sig}, "Clasp-Event-Timestamp": {"1767323045"}}, ErrMalformedHeader},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := v.Verify(body, tc.h)
			if tc.want == nil && err != nil || !errors.Is(err, tc.want) {
				t.Fatalf("Verify: %v, want %v", err, tc.want)
			}
		})
	}
	// The compact body has another signature: the receiver signs the
	// python-style bytes it was sent, nothing else.
	compact := []byte(`{"id":"evt_01","type":"user.created","timestamp":"2026-01-02T03:04:05.000000Z","data":{"id":"usr_789","name":"Zoë"}}`)
	err := v.Verify(compact, http.Header{"Clasp-Event-Signature": {sig}, "Clasp-Event-Timestamp": {"1767323045"}})
	if !errors.Is(err, ErrBadSignature) {
		t.Fatalf("Verify of the compact body: %v, want ErrBadSignature", err)
	}
}

// Header names match without regard to case, also in a map whose keys are
// not canonical.
func TestHeaderCase(t *testing.T) {
	t.Parallel()
	v := mustNew(t, Config{}, []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, clockAt(1614265330))
	h := http.Header{
		"webhook-id":        {"msg_p5jXN8AQM9LWM0D4loKWxJek"},
		"WEBHOOK-TIMESTAMP": {"1614265330"},
		"webhook-signature": {"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="},
	}
	if err := v.Verify([]byte(`{"test": 2432232314}`), h); err != nil {
		t.Fatalf("Verify with non-canonical header keys: %v, want nil", err)
	}
}

func TestNew_Errors(t *testing.T) {
	t.Parallel()
	empty := ""
	tests := []struct {
		name    string
		cfg     Config
		secrets []string
		opts    []Option
		want    error
	}{
		{"no secret", Config{}, nil, nil, ErrNoSecret},
		{"empty secret", Config{}, []string{""}, nil, ErrNoSecret},
		{"empty secret among good ones", Config{Scheme: Body, Header: "X"}, []string{"good_secret", ""}, nil, ErrNoSecret},
		{"bare whsec_", Config{}, []string{"whsec_"}, nil, ErrNoSecret},
		{"standard secret not base64", Config{}, []string{"whsec_not base64!"}, nil, ErrInvalidConfig},
		{"unknown scheme", Config{Scheme: "hmac"}, []string{"x"}, nil, ErrInvalidConfig},
		{"timestamped without header", Config{Scheme: Timestamped}, []string{"x"}, nil, ErrInvalidConfig},
		{"body without header", Config{Scheme: Body}, []string{"x"}, nil, ErrInvalidConfig},
		{"body-then-timestamp without timestamp header", Config{Scheme: BodyThenTimestamp, Header: "X"}, []string{"x"}, nil, ErrInvalidConfig},
		{"header on standard-webhooks", Config{Header: "X"}, []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, nil, ErrInvalidConfig},
		{"prefix on timestamped", Config{Scheme: Timestamped, Header: "X", Prefix: &empty}, []string{"x"}, nil, ErrInvalidConfig},
		{"timestamp header on body", Config{Scheme: Body, Header: "X", TimestampHeader: "Y"}, []string{"x"}, nil, ErrInvalidConfig},
		{"bad encoding", Config{Scheme: Body, Header: "X", Encoding: "base32"}, []string{"x"}, nil, ErrInvalidConfig},
		{"tolerance on body", Config{Scheme: Body, Header: "X"}, []string{"x"}, []Option{WithTolerance(time.Minute)}, ErrInvalidConfig},
		{"zero tolerance", Config{Scheme: Timestamped, Header: "X"}, []string{"x"}, []Option{WithTolerance(0)}, ErrInvalidConfig},
		{"nil clock", Config{Scheme: Timestamped, Header: "X"}, []string{"x"}, []Option{WithClock(nil)}, ErrInvalidConfig},
		{"zero max body", Config{Scheme: Timestamped, Header: "X"}, []string{"x"}, []Option{WithMaxBodySize(0)}, ErrInvalidConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, err := New(tc.cfg, tc.secrets, tc.opts...)
			if !errors.Is(err, tc.want) {
				t.Fatalf("New: %v, %v; want error %v", v, err, tc.want)
			}
		})
	}
}

func TestHasTimestamp(t *testing.T) {
	t.Parallel()
	for cfg, want := range map[Config]bool{
		{}:                                 true,
		{Scheme: Timestamped, Header: "X"}: true,
		{Scheme: Body, Header: "X"}:        false,
		{Scheme: BodyThenTimestamp, Header: "X", TimestampHeader: "Y"}: true,
	} {
		secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		if got := mustNew(t, cfg, []string{secret}).HasTimestamp(); got != want {
			t.Errorf("%+v: HasTimestamp() = %v, want %v", cfg, got, want)
		}
	}
}

// signedRequest builds a request of the timestamped scheme that verifies
// with the secret "test_secret_123" at Unix time 1767323045.
func signedRequest(body string) *http.Request {
	m := hmac.New(sha256.New, []byte("test_secret_123"))
	m.Write([]byte("1767323045." + body))
	r := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(body))
	r.Header.Set("X-Sig", "t=1767323045,v1="+hex.EncodeToString(m.Sum(nil)))
	return r
}

func newRequestVerifier(t *testing.T, opts ...Option) *Verifier {
	t.Helper()
	return mustNew(t, Config{Scheme: Timestamped, Header: "X-Sig"}, []string{"test_secret_123"}, append([]Option{clockAt(1767323045)}, opts...)...)
}

func TestVerifyRequest(t *testing.T) {
	t.Parallel()
	const body = `{"id":"evt_1","data":{"n":1}}`

	t.Run("verified body returned and still readable", func(t *testing.T) {
		t.Parallel()
		r := signedRequest(body)
		got, err := newRequestVerifier(t).VerifyRequest(r)
		if err != nil {
			t.Fatalf("VerifyRequest: %v, want nil", err)
		}
		if string(got) != body {
			t.Errorf("returned body %q, want %q", got, body)
		}
		again, _ := io.ReadAll(r.Body)
		if string(again) != body {
			t.Errorf("r.Body after VerifyRequest reads %q, want %q", again, body)
		}
	})

	t.Run("refused body still readable", func(t *testing.T) {
		t.Parallel()
		r := signedRequest(body)
		r.Body = io.NopCloser(strings.NewReader(body + "tampered"))
		if _, err := newRequestVerifier(t).VerifyRequest(r); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("VerifyRequest: %v, want ErrBadSignature", err)
		}
		again, _ := io.ReadAll(r.Body)
		if string(again) != body+"tampered" {
			t.Errorf("r.Body after refusal reads %q, want the original", again)
		}
	})

	t.Run("too large, body left whole", func(t *testing.T) {
		t.Parallel()
		r := signedRequest(body)
		_, err := newRequestVerifier(t, WithMaxBodySize(10)).VerifyRequest(r)
		if !errors.Is(err, ErrBodyTooLarge) {
			t.Fatalf("VerifyRequest with a 10-byte limit: %v, want ErrBodyTooLarge", err)
		}
		again, _ := io.ReadAll(r.Body)
		if string(again) != body {
			t.Errorf("r.Body after ErrBodyTooLarge reads %q, want the whole original %q", again, body)
		}
	})

	t.Run("exactly the limit", func(t *testing.T) {
		t.Parallel()
		r := signedRequest(body)
		if _, err := newRequestVerifier(t, WithMaxBodySize(int64(len(body)))).VerifyRequest(r); err != nil {
			t.Fatalf("VerifyRequest with the limit at the body's size: %v, want nil", err)
		}
	})

	t.Run("no body", func(t *testing.T) {
		t.Parallel()
		r := signedRequest("")
		r.Body = nil
		if _, err := newRequestVerifier(t).VerifyRequest(r); err != nil {
			t.Fatalf("VerifyRequest of an empty signed body with a nil Body: %v, want nil", err)
		}
	})
}

func TestMiddleware(t *testing.T) {
	t.Parallel()
	const body = `{"id":"evt_1","type":"user.created","data":{"n":1}}`
	var got []string
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, string(b))
		w.WriteHeader(http.StatusNoContent)
	})
	h := newRequestVerifier(t, WithMaxBodySize(1000)).Middleware(next)

	tests := []struct {
		name       string
		req        func() *http.Request
		wantStatus int
		wantReason string
	}{
		{"verified", func() *http.Request { return signedRequest(body) }, http.StatusNoContent, ""},
		{"unsigned", func() *http.Request {
			return httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(body))
		}, http.StatusUnauthorized, "missing header"},
		{"tampered", func() *http.Request {
			r := signedRequest(body)
			r.Body = io.NopCloser(strings.NewReader(strings.Replace(body, "1", "2", 1)))
			return r
		}, http.StatusUnauthorized, "bad signature"},
		{"malformed", func() *http.Request {
			r := signedRequest(body)
			r.Header.Set("X-Sig", "v1,abc")
			return r
		}, http.StatusUnauthorized, "malformed header"},
		{"too large", func() *http.Request {
			return signedRequest(strings.Repeat(" ", 1001))
		}, http.StatusRequestEntityTooLarge, "body too large"},
	}
	for _, tc := range tests { // sequential: they share got
		got = nil
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, tc.req())
		if rec.Code != tc.wantStatus {
			t.Errorf("%s: status %d, want %d", tc.name, rec.Code, tc.wantStatus)
		}
		if tc.wantReason == "" {
			if len(got) != 1 || got[0] != body {
				t.Errorf("%s: next saw bodies %q, want exactly [%q]", tc.name, got, body)
			}
			continue
		}
		if len(got) != 0 {
			t.Errorf("%s: next was called with %q, want it not called", tc.name, got)
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("%s: Content-Type %q, want text/plain", tc.name, ct)
		}
		if want := "webhook verification failed: " + tc.wantReason + "\n"; rec.Body.String() != want {
			t.Errorf("%s: response %q, want %q", tc.name, rec.Body.String(), want)
		}
	}
}

// The middleware hands the exact bytes on through a real server, where the
// body is a network stream and not a strings.Reader.
func TestMiddleware_Server(t *testing.T) {
	t.Parallel()
	body := `{"id":"evt_1","data":{"s":"Zoë \u00e9 \n"}}` + "\n"
	seen := make(chan []byte, 1)
	srv := httptest.NewServer(newRequestVerifier(t).Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen <- b
	})))
	defer srv.Close()

	in := signedRequest(body)
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
	req.Header = in.Header
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	if got := <-seen; !bytes.Equal(got, []byte(body)) {
		t.Fatalf("next read %q, want %q", got, body)
	}
}

func TestEvent(t *testing.T) {
	t.Parallel()
	const secret = "test_secret_123"
	tests := []struct {
		name             string
		body             string
		wantID, wantType string
		wantTimestamp    string
		wantData         string
		wantErr          error
	}{
		{"default body", `{"id":"evt_01","type":"user.created","timestamp":"2026-01-02T03:04:05.000000Z","data":{"id":"usr_789"}}`,
			"evt_01", "user.created", "2026-01-02T03:04:05.000000Z", `{"id":"usr_789"}`, nil},
		{"stripe-like", `{"id":"evt_2","type":"capital_call.created","created":1767323045,"livemode":true,"data":{"object":{}}}`,
			"evt_2", "capital_call.created", "1767323045", `{"object":{}}`, nil},
		{"versioned", `{"event_id":"evt_3","delivery_id":"dlv_1","event_type":"v1.case.completed","created_at":"2026-01-02T03:04:05Z","data":[1]}`,
			"evt_3", "v1.case.completed", "2026-01-02T03:04:05Z", `[1]`, nil},
		{"thin", `{"id": "evnt_4", "event_type": "updated", "object_id": "er_1"}`,
			"evnt_4", "updated", "", "", nil},
		{"numeric id", `{"id":12345678901234567890,"type":"x"}`, "12345678901234567890", "x", "", "", nil},
		{"not an object", `[1,2]`, "", "", "", "", ErrMalformedBody},
		{"not JSON", `id=1`, "", "", "", "", ErrMalformedBody},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := mustNew(t, Config{Scheme: Body, Header: "X-Sig"}, []string{secret})
			m := hmac.New(sha256.New, []byte(secret))
			m.Write([]byte(tc.body))
			h := http.Header{"X-Sig": {"sha256=" + hex.EncodeToString(m.Sum(nil))}}
			e, err := v.Event([]byte(tc.body), h)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Event: %+v, %v; want %v", e, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Event: %v", err)
			}
			if e.ID != tc.wantID || e.Type != tc.wantType || e.Timestamp != tc.wantTimestamp || string(e.Data) != tc.wantData {
				t.Errorf("Event = {%q %q %q %s}, want {%q %q %q %s}", e.ID, e.Type, e.Timestamp, e.Data,
					tc.wantID, tc.wantType, tc.wantTimestamp, tc.wantData)
			}
			var all map[string]json.RawMessage
			_ = json.Unmarshal([]byte(tc.body), &all)
			if len(e.Raw) != len(all) {
				t.Errorf("Raw has %d fields, want %d", len(e.Raw), len(all))
			}

			// Unverified, no event.
			if e, err := v.Event([]byte(tc.body+" "), h); !errors.Is(err, ErrBadSignature) || e != nil {
				t.Errorf("Event of a tampered body: %+v, %v; want nil, ErrBadSignature", e, err)
			}
		})
	}
}

// Standard Webhooks bodies without an id take it from webhook-id.
func TestEvent_StandardID(t *testing.T) {
	t.Parallel()
	v := mustNew(t, Config{}, []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, clockAt(1614265330))
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	e, err := v.Event([]byte(`{"test": 2432232314}`), h)
	if err != nil {
		t.Fatalf("Event: %v", err)
	}
	if e.ID != "msg_p5jXN8AQM9LWM0D4loKWxJek" || string(e.Raw["test"]) != "2432232314" {
		t.Fatalf("Event = %+v, want ID from webhook-id and Raw[test] = 2432232314", e)
	}
}

func TestEventFromRequest(t *testing.T) {
	t.Parallel()
	r := signedRequest(`{"id":"evt_9","type":"a.b"}`)
	e, err := newRequestVerifier(t).EventFromRequest(r)
	if err != nil || e.ID != "evt_9" || e.Type != "a.b" {
		t.Fatalf("EventFromRequest: %+v, %v; want evt_9 of type a.b", e, err)
	}
}

// Every error wraps exactly one kind and names it in its text.
func TestErrorText(t *testing.T) {
	t.Parallel()
	v := newRequestVerifier(t)
	err := v.Verify([]byte("{}"), http.Header{})
	if err == nil || !strings.HasPrefix(err.Error(), "verify: missing header: X-Sig") {
		t.Fatalf("error text %q, want it to start with %q", err, "verify: missing header: X-Sig")
	}
}
