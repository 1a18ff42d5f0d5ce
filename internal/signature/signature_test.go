package signature_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/signature"
	"github.com/heraldhq/herald/verify"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	svix "github.com/svix/svix-webhooks/go"
)

// vector is one entry of testdata/vectors.json.
type vector struct {
	Name      string            `json:"name"`
	Source    string            `json:"source"`
	Config    signature.Config  `json:"config"`
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
	if len(doc.Vectors) < 5 {
		t.Fatalf("%d vectors in testdata/vectors.json, want at least the 5 rows of docs/formats.md's Test vectors", len(doc.Vectors))
	}
	return doc.Vectors
}

// Sign gives exactly the headers of every known-answer vector: no header
// more, none less, each value byte for byte.
func TestSign_Vectors(t *testing.T) {
	t.Parallel()
	for _, vec := range loadVectors(t) {
		t.Run(vec.Name, func(t *testing.T) {
			t.Parallel()
			got, err := signature.Sign(&vec.Config, vec.Secrets, vec.MsgID, time.Unix(vec.Timestamp, 0), []byte(vec.Body))
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			want := http.Header{}
			for k, v := range vec.Headers {
				want.Set(k, v)
			}
			if len(got) != len(want) {
				t.Errorf("Sign set headers %v, want %v", keys(got), keys(want))
			}
			for k := range want {
				if g, w := got[k], want[k]; !slices.Equal(g, w) {
					t.Errorf("header %s = %q, want %q", k, g, w)
				}
			}
		})
	}
}

func keys(h http.Header) []string {
	out := make([]string, 0, len(h))
	for k := range h {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// The signing time's sub-second part is not signed: the timestamp is Unix
// seconds.
func TestSign_UnixSeconds(t *testing.T) {
	t.Parallel()
	c := &signature.Config{Scheme: signature.Timestamped, Header: "X-Clearway-Signature"}
	body := []byte(`{"id":"evt_01","type":"user.created","timestamp":"2026-01-02T03:04:05.000000Z","data":{"id":"usr_789","name":"Zoë"}}`)
	h, err := signature.Sign(c, []string{"whsec_test_secret"}, "evt_01", time.Unix(1767323045, 999_999_999).In(time.FixedZone("X", 3600)), body)
	if err != nil {
		t.Fatal(err)
	}
	const want = "t=1767323045,v1=3a1427b21e60369b25ea17452321800f7a53dcfe93a91f582ee897f5ad464d60"
	if got := h.Get("X-Clearway-Signature"); got != want {
		t.Fatalf("signature %q, want %q", got, want)
	}
}

// rotations are the secret lists of the round trips: one secret, and a
// rotation's new and old secret.
func rotations() map[string][]string {
	return map[string][]string{
		"one secret": {signature.GenerateSecret()},
		"rotation":   {signature.GenerateSecret(), signature.GenerateSecret()},
	}
}

// The Standard Webhooks and Svix libraries verify what Sign writes, with
// each secret of a rotation, and refuse a secret that did not sign.
func TestSign_StandardWebhooksLibraries(t *testing.T) {
	t.Parallel()
	body := []byte(`{"id":"evt_01","type":"user.created","timestamp":"2026-01-02T03:04:05.000000Z","data":{"id":"usr_789","name":"Zoë"}}`)
	for name, secrets := range rotations() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// The libraries check the timestamp against their own clock.
			h, err := signature.Sign(&signature.Config{}, secrets, "evt_01", time.Now(), body)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if n := len(strings.Fields(h.Get("webhook-signature"))); n != len(secrets) {
				t.Fatalf("webhook-signature has %d signatures, want one per secret (%d)", n, len(secrets))
			}
			for i, s := range secrets {
				sw, err := standardwebhooks.NewWebhook(s)
				if err != nil {
					t.Fatal(err)
				}
				if err := sw.Verify(body, h); err != nil {
					t.Errorf("standardwebhooks.Verify with secret %d: %v, want nil", i+1, err)
				}
				sx, err := svix.NewWebhook(s)
				if err != nil {
					t.Fatal(err)
				}
				if err := sx.Verify(body, h); err != nil {
					t.Errorf("svix.Verify with secret %d: %v, want nil", i+1, err)
				}
				// The library's own signature for this secret is one of ours.
				libSig, _ := sw.Sign("evt_01", time.Unix(mustAtoi(t, h.Get("webhook-timestamp")), 0), body)
				if !slices.Contains(strings.Fields(h.Get("webhook-signature")), libSig) {
					t.Errorf("standardwebhooks.Sign gives %q, not among %q", libSig, h.Get("webhook-signature"))
				}
			}

			other := signature.GenerateSecret()
			sw, _ := standardwebhooks.NewWebhook(other)
			if err := sw.Verify(body, h); !errors.Is(err, standardwebhooks.ErrNoMatchingSignature) {
				t.Errorf("standardwebhooks.Verify with a secret that did not sign: %v, want ErrNoMatchingSignature", err)
			}
			sx, _ := svix.NewWebhook(other)
			if err := sx.Verify(body, h); err == nil {
				t.Error("svix.Verify with a secret that did not sign: nil, want an error")
			}
			sw, _ = standardwebhooks.NewWebhook(secrets[0])
			if err := sw.Verify(append(body, ' '), h); !errors.Is(err, standardwebhooks.ErrNoMatchingSignature) {
				t.Errorf("standardwebhooks.Verify of a changed body: %v, want ErrNoMatchingSignature", err)
			}
		})
	}
}

func mustAtoi(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	if err := json.Unmarshal([]byte(s), &n); err != nil {
		t.Fatalf("%q is not an integer", s)
	}
	return n
}

// The verify package, written apart from this one, accepts what Sign writes
// for every scheme: with each secret during a rotation for the schemes that
// carry several signatures, with the newest only for the others.
func TestSign_VerifyPackage(t *testing.T) {
	t.Parallel()
	empty, custom := "", "v0="
	configs := []signature.Config{
		{},
		{Scheme: signature.StandardWebhooks},
		{Scheme: signature.Timestamped, Header: "X-Acme-Signature"},
		{Scheme: signature.Body, Header: "X-Webhook-Signature"},
		{Scheme: signature.Body, Header: "X-Webhook-Signature", Prefix: &empty, Encoding: signature.EncodingBase64},
		{Scheme: signature.Body, Header: "X-Webhook-Signature", Prefix: &custom, Encoding: signature.EncodingHex},
		{Scheme: signature.BodyThenTimestamp, Header: "Clasp-Event-Signature", TimestampHeader: "Clasp-Event-Timestamp"},
	}
	body := []byte(`{"id": "evt_01", "data": {"name": "Zo\u00eb"}}`)
	now := time.Unix(1767323045, 0)
	for _, c := range configs {
		for name, secrets := range rotations() {
			t.Run(c.SchemeName()+"/"+name, func(t *testing.T) {
				t.Parallel()
				h, err := signature.Sign(&c, secrets, "evt_01", now, body)
				if err != nil {
					t.Fatalf("Sign: %v", err)
				}
				// The Config JSON is what a receiver would copy from the
				// format: decode it into verify's own Config.
				var vc verify.Config
				b, _ := json.Marshal(c)
				if err := json.Unmarshal(b, &vc); err != nil {
					t.Fatal(err)
				}
				clock := verify.WithClock(func() time.Time { return now.Add(time.Minute) })
				for i, s := range secrets {
					v, err := verify.New(vc, []string{s}, clock)
					if err != nil {
						t.Fatalf("verify.New(%s): %v", b, err)
					}
					err = v.Verify(body, h)
					switch {
					case i == 0 || c.SupportsMultipleSecrets():
						if err != nil {
							t.Errorf("verify with secret %d: %v, want nil", i+1, err)
						}
					case !errors.Is(err, verify.ErrBadSignature):
						t.Errorf("verify with old secret %d of a one-signature scheme: %v, want ErrBadSignature", i+1, err)
					}
					if err := v.Verify(append(body, ' '), h); !errors.Is(err, verify.ErrBadSignature) {
						t.Errorf("verify of a changed body: %v, want ErrBadSignature", err)
					}
					if v.HasTimestamp() != c.HasTimestamp() {
						t.Errorf("verify says HasTimestamp %v, signature says %v", v.HasTimestamp(), c.HasTimestamp())
					}
				}
				v, _ := verify.New(vc, secrets, verify.WithClock(func() time.Time { return now.Add(time.Hour) }))
				err = v.Verify(body, h)
				if c.HasTimestamp() && !errors.Is(err, verify.ErrTimestampTooOld) {
					t.Errorf("verify an hour later: %v, want ErrTimestampTooOld", err)
				}
				if !c.HasTimestamp() && err != nil {
					t.Errorf("verify an hour later without a timestamp: %v, want nil", err)
				}
			})
		}
	}
}

// HeaderNames lists exactly the headers Sign sets.
func TestHeaderNames(t *testing.T) {
	t.Parallel()
	for _, c := range []signature.Config{
		{},
		{Scheme: signature.Timestamped, Header: "x-acme-signature"},
		{Scheme: signature.Body, Header: "X-Webhook-Signature"},
		{Scheme: signature.BodyThenTimestamp, Header: "Clasp-Event-Signature", TimestampHeader: "clasp-event-timestamp"},
	} {
		h, err := signature.Sign(&c, []string{signature.GenerateSecret()}, "evt_1", time.Unix(1, 0), nil)
		if err != nil {
			t.Fatalf("%s: Sign: %v", c.SchemeName(), err)
		}
		got := c.HeaderNames()
		slices.Sort(got)
		if want := keys(h); !slices.Equal(got, want) {
			t.Errorf("%s: HeaderNames() = %q, Sign set %q", c.SchemeName(), got, want)
		}
	}
}

func TestSign_Errors(t *testing.T) {
	t.Parallel()
	good := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	tests := []struct {
		name    string
		cfg     signature.Config
		secrets []string
		msgID   string
		want    string
	}{
		{"no secret", signature.Config{}, nil, "evt_1", "no secret"},
		{"empty secret", signature.Config{Scheme: signature.Body, Header: "X"}, []string{""}, "evt_1", "empty secret"},
		{"empty old secret", signature.Config{}, []string{good, ""}, "evt_1", "secret 2: empty secret"},
		{"standard secret not base64", signature.Config{}, []string{"whsec_not base64"}, "evt_1", "base64"},
		{"standard without message id", signature.Config{}, []string{good}, "", "message id"},
		{"invalid config", signature.Config{Scheme: "hmac"}, []string{good}, "evt_1", "scheme"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, err := signature.Sign(&tc.cfg, tc.secrets, tc.msgID, time.Unix(1, 0), []byte("{}"))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "sign: ") {
				t.Fatalf("Sign: %v, %v; want an error starting sign: and mentioning %q", h, err, tc.want)
			}
		})
	}
	// A nil config is the default scheme.
	if _, err := signature.Sign(nil, []string{good}, "evt_1", time.Unix(1, 0), nil); err != nil {
		t.Fatalf("Sign with a nil config: %v, want the default scheme", err)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	empty, space, long, ctl := "", " x", strings.Repeat("a", 65), "sha\n256="
	tests := []struct {
		name string
		cfg  signature.Config
		want []string // locations, nil = valid
	}{
		{"empty is standard-webhooks", signature.Config{}, nil},
		{"standard-webhooks", signature.Config{Scheme: signature.StandardWebhooks}, nil},
		{"timestamped", signature.Config{Scheme: signature.Timestamped, Header: "X-Acme-Signature"}, nil},
		{"body", signature.Config{Scheme: signature.Body, Header: "X-Hub-Signature-256"}, nil},
		{"body, all fields", signature.Config{Scheme: signature.Body, Header: "X-Sig", Prefix: &empty, Encoding: "base64"}, nil},
		{"body-then-timestamp", signature.Config{Scheme: signature.BodyThenTimestamp, Header: "A", TimestampHeader: "B"}, nil},
		{"unknown scheme", signature.Config{Scheme: "hmac-sha1"}, []string{"scheme"}},
		{"scheme in capitals", signature.Config{Scheme: "Body", Header: "X"}, []string{"scheme"}},
		{"timestamped without header", signature.Config{Scheme: signature.Timestamped}, []string{"header"}},
		{"body without header", signature.Config{Scheme: signature.Body}, []string{"header"}},
		{"body-then-timestamp without either", signature.Config{Scheme: signature.BodyThenTimestamp}, []string{"header", "timestamp_header"}},
		{"body-then-timestamp, same header twice", signature.Config{Scheme: signature.BodyThenTimestamp, Header: "X-Sig", TimestampHeader: "x-sig"}, []string{"timestamp_header"}},
		{"header with a space", signature.Config{Scheme: signature.Timestamped, Header: "X Sig"}, []string{"header"}},
		{"header with a colon", signature.Config{Scheme: signature.Timestamped, Header: "X-Sig:"}, []string{"header"}},
		{"header non-ASCII", signature.Config{Scheme: signature.Timestamped, Header: "X-Signatür"}, []string{"header"}},
		{"transport header", signature.Config{Scheme: signature.Body, Header: "content-length"}, []string{"header"}},
		{"header on standard-webhooks", signature.Config{Header: "X-Sig"}, []string{"header"}},
		{"timestamp_header on timestamped", signature.Config{Scheme: signature.Timestamped, Header: "X", TimestampHeader: "Y"}, []string{"timestamp_header"}},
		{"bad encoding", signature.Config{Scheme: signature.Body, Header: "X", Encoding: "base32"}, []string{"encoding"}},
		{"encoding on timestamped", signature.Config{Scheme: signature.Timestamped, Header: "X", Encoding: "hex"}, []string{"encoding"}},
		{"prefix on standard-webhooks", signature.Config{Prefix: &empty}, []string{"prefix"}},
		{"prefix starting with a space", signature.Config{Scheme: signature.Body, Header: "X", Prefix: &space}, []string{"prefix"}},
		{"prefix too long", signature.Config{Scheme: signature.Body, Header: "X", Prefix: &long}, []string{"prefix"}},
		{"prefix with a newline", signature.Config{Scheme: signature.Body, Header: "X", Prefix: &ctl}, []string{"prefix"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.cfg.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate: %v, want nil", err)
				}
				return
			}
			var ve *herald.ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, herald.ErrInvalid) {
				t.Fatalf("Validate: %v, want a *herald.ValidationError at %q", err, tc.want)
			}
			var got []string
			for _, f := range ve.Fields {
				got = append(got, f.Location)
				if f.Message == "" {
					t.Errorf("field %q has no message", f.Location)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("Validate located errors at %q (%v), want %q", got, err, tc.want)
			}
		})
	}
}

func TestSupportsMultipleSecrets(t *testing.T) {
	t.Parallel()
	for scheme, want := range map[string]bool{
		"": true, signature.StandardWebhooks: true, signature.Timestamped: true,
		signature.Body: false, signature.BodyThenTimestamp: false,
	} {
		c := &signature.Config{Scheme: scheme}
		if got := c.SupportsMultipleSecrets(); got != want {
			t.Errorf("%q: SupportsMultipleSecrets() = %v, want %v", scheme, got, want)
		}
		err := c.CheckRotationGrace("body.grace_period")
		var ve *herald.ValidationError
		switch {
		case want && err != nil:
			t.Errorf("%q: CheckRotationGrace: %v, want nil", scheme, err)
		case !want && (!errors.As(err, &ve) || ve.Fields[0].Location != "body.grace_period" || !strings.Contains(err.Error(), "one signature")):
			t.Errorf("%q: CheckRotationGrace: %v, want a validation error at body.grace_period explaining one signature", scheme, err)
		}
	}
}

func TestGenerateSecret(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		s := signature.GenerateSecret()
		rest, ok := strings.CutPrefix(s, "whsec_")
		if !ok {
			t.Fatalf("secret %q does not start with whsec_", s)
		}
		b, err := base64.StdEncoding.DecodeString(rest)
		if err != nil || len(b) != 32 {
			t.Fatalf("secret %q decodes to %d bytes (%v), want 32", s, len(b), err)
		}
		for _, scheme := range []string{signature.StandardWebhooks, signature.Timestamped, signature.Body, signature.BodyThenTimestamp} {
			if err := signature.ValidateSecret(scheme, s); err != nil {
				t.Fatalf("ValidateSecret(%s, %q): %v, want a generated secret valid for every scheme", scheme, s, err)
			}
		}
		if seen[s] {
			t.Fatalf("secret %q generated twice", s)
		}
		seen[s] = true
	}
}

func TestSecretFor_GeneratesOrChecks(t *testing.T) {
	t.Parallel()
	for _, scheme := range []string{signature.StandardWebhooks, signature.Body} {
		s, err := signature.SecretFor(scheme, "")
		if err != nil || !strings.HasPrefix(s, "whsec_") || signature.ValidateSecret(scheme, s) != nil {
			t.Errorf("SecretFor(%s, \"\") = %q, %v; want a generated secret", scheme, s, err)
		}
	}
	if s, err := signature.SecretFor(signature.Body, "plain_string_secret"); err != nil || s != "plain_string_secret" {
		t.Errorf("SecretFor(body, a fitting secret) = %q, %v; want it back", s, err)
	}
	s, err := signature.SecretFor(signature.StandardWebhooks, "plain_string_secret")
	if !errors.Is(err, herald.ErrInvalid) || s != "" || !slices.Equal(herald.Locations(err), []string{"secret"}) {
		t.Errorf("SecretFor(standard-webhooks, a plain string) = %q, %v; want ValidateSecret's error at secret", s, err)
	}
}

func TestValidateSecret(t *testing.T) {
	t.Parallel()
	b64 := func(n int) string { return "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, n)) }
	tests := []struct {
		scheme, secret string
		wantLoc        string // "" = valid
	}{
		{signature.StandardWebhooks, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", ""},
		{"", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", ""},
		{signature.StandardWebhooks, b64(24), ""},
		{signature.StandardWebhooks, b64(64), ""},
		{signature.StandardWebhooks, b64(23), "secret"},
		{signature.StandardWebhooks, b64(65), "secret"},
		{signature.StandardWebhooks, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "secret"},
		{signature.StandardWebhooks, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", "secret"},
		{signature.StandardWebhooks, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n", "secret"},
		{signature.StandardWebhooks, "whsec_" + strings.Repeat("-", 32), "secret"},
		{signature.StandardWebhooks, "", "secret"},
		{signature.Timestamped, "whsec_test_secret", ""},
		{signature.Body, "your_webhook_secret", ""},
		{signature.BodyThenTimestamp, "clasp_secret", ""},
		{signature.Body, "12345678", ""},
		{signature.Body, "1234567", "secret"},
		{signature.Body, strings.Repeat("a", 256), ""},
		{signature.Body, strings.Repeat("a", 257), "secret"},
		{signature.Body, "with space inside", ""},
		{signature.Body, " leading space", "secret"},
		{signature.Body, "trailing space ", "secret"},
		{signature.Body, "tab\tinside", "secret"},
		{signature.Body, "zoë_secret", "secret"},
		{signature.Body, "", "secret"},
		{"hmac", "anything_at_all", "scheme"},
	}
	for _, tc := range tests {
		err := signature.ValidateSecret(tc.scheme, tc.secret)
		if tc.wantLoc == "" {
			if err != nil {
				t.Errorf("ValidateSecret(%q, %q): %v, want nil", tc.scheme, tc.secret, err)
			}
			continue
		}
		var ve *herald.ValidationError
		if !errors.As(err, &ve) || ve.Fields[0].Location != tc.wantLoc {
			t.Errorf("ValidateSecret(%q, %q): %v, want a validation error at %q", tc.scheme, tc.secret, err, tc.wantLoc)
		}
	}
}

func TestKey(t *testing.T) {
	t.Parallel()
	k, err := signature.Key(signature.StandardWebhooks, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	want, _ := base64.StdEncoding.DecodeString("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil || string(k) != string(want) {
		t.Errorf("standard-webhooks key = %x, %v; want the decoded base64 %x", k, err, want)
	}
	k, err = signature.Key(signature.Timestamped, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil || string(k) != "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" {
		t.Errorf("timestamped key = %q, %v; want the secret's own bytes, prefix included", k, err)
	}
}

func TestSign_MessageID(t *testing.T) {
	t.Parallel()
	secret := []string{signature.GenerateSecret()}
	for _, id := range []string{"", " evt_1", "evt_1 ", "evt\r\n_1", "evt\x00"} {
		if h, err := signature.Sign(nil, secret, id, time.Unix(1, 0), nil); err == nil {
			t.Errorf("Sign with message id %q: %v, nil; want an error (it cannot travel in webhook-id as signed)", id, h)
		}
	}
	for _, id := range []string{"evt_1", "01J0000000000000000000000", "ord 42/ü"} {
		if _, err := signature.Sign(nil, secret, id, time.Unix(1, 0), nil); err != nil {
			t.Errorf("Sign with message id %q: %v, want nil", id, err)
		}
	}
}

// TestDocsVectors: every expected value of the Test vectors table of
// docs/formats.md is the signature header of a vector (source "spec") that
// TestSign_Vectors checks, so the docs show only what Herald signs.
func TestDocsVectors(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/formats.md")
	if err != nil {
		t.Fatalf("read docs: %v", err)
	}
	_, table, ok := strings.Cut(string(doc), "| scheme | secret | expected |\n|---|---|---|\n")
	if !ok {
		t.Fatal("docs/formats.md has no Test vectors table")
	}
	signed := map[string]bool{}
	for _, vec := range loadVectors(t) {
		if vec.Source != "spec" {
			continue
		}
		for _, v := range vec.Headers {
			signed[vec.Secrets[0]+" "+v] = true
		}
	}
	n := 0
	for line := range strings.Lines(table) {
		if !strings.HasPrefix(line, "|") {
			break
		}
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		secret := strings.Trim(strings.TrimSpace(cells[len(cells)-2]), "`")
		expected := strings.Trim(strings.TrimSpace(cells[len(cells)-1]), "`")
		if !signed[secret+" "+expected] {
			t.Errorf("docs/formats.md shows %q signed with %q; no spec vector in testdata/vectors.json has it", expected, secret)
		}
		n++
	}
	if n != 5 {
		t.Errorf("%d rows in the docs' Test vectors table, want 5", n)
	}
}

// SignTo writes what Sign returns into a header that already holds the
// request's other headers: the signature's replace any of the same names
// (in any case) and the rest stay; on an error nothing changes.
func TestSignTo_WritesIntoTheHeader(t *testing.T) {
	t.Parallel()
	body := []byte(`{"id":"evt_01"}`)
	now := time.Unix(1767323045, 0)
	for _, c := range []signature.Config{
		{},
		{Scheme: signature.Timestamped, Header: "x-acme-signature"},
		{Scheme: signature.BodyThenTimestamp, Header: "Clasp-Event-Signature", TimestampHeader: "clasp-event-timestamp"},
	} {
		for name, secrets := range rotations() {
			want, err := signature.Sign(&c, secrets, "evt_01", now, body)
			if err != nil {
				t.Fatal(err)
			}
			h := http.Header{"Content-Type": {"application/json"}}
			for _, k := range c.HeaderNames() {
				h[k] = []string{"stale", "values"}
			}
			if err := signature.SignTo(h, &c, secrets, "evt_01", now, body); err != nil {
				t.Fatal(err)
			}
			for k, vs := range want {
				if !slices.Equal(h[k], vs) {
					t.Errorf("%s, %s: %s = %q, want %q as Sign gives", c.SchemeName(), name, k, h[k], vs)
				}
			}
			if len(h) != len(want)+1 || h.Get("Content-Type") != "application/json" {
				t.Errorf("%s, %s: header %v, want Sign's %v and Content-Type", c.SchemeName(), name, h, want)
			}
		}
	}
	h := http.Header{"Webhook-Signature": {"old"}}
	if err := signature.SignTo(h, &signature.Config{}, []string{"not base64!"}, "evt_01", now, body); err == nil || h.Get("Webhook-Signature") != "old" || len(h) != 1 {
		t.Errorf("SignTo with a bad secret = %v, header %v; want an error and the header as it was", err, h)
	}
}

// Attempts are signed at once on many workers, sharing the buffers the
// signed message is written in: each signature is of its own body.
func TestSign_ConcurrentlyEachOfItsOwnBody(t *testing.T) {
	t.Parallel()
	secret := signature.GenerateSecret()
	now := time.Unix(1767323045, 0)
	v, err := verify.NewStandard([]string{secret}, verify.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				// Sizes either side of the buffer kept for reuse.
				body := []byte(fmt.Sprintf(`{"g":%d,"i":%d,"pad":%q}`, g, i, strings.Repeat("x", (g*i*997)%(80<<10))))
				h, err := signature.Sign(&signature.Config{}, []string{secret}, fmt.Sprintf("evt_%d_%d", g, i), now, body)
				if err != nil {
					t.Error(err)
					return
				}
				if err := v.Verify(body, h); err != nil {
					t.Errorf("goroutine %d, body %d: %v", g, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
