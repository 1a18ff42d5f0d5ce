package signature_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/signature"
	"github.com/heraldhq/herald/verify"
)

// A secret ValidateSecret accepts can always sign, and the key of a
// standard-webhooks secret is 24 to 64 bytes.
func FuzzValidateSecret(f *testing.F) {
	for _, s := range []string{
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_", "whsec_====", "whsec_MfKQ\n9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		"clasp_secret", "1234567", " padded ", "zoë_secret_", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, secret string) {
		for _, scheme := range []string{signature.StandardWebhooks, signature.Timestamped, signature.Body, signature.BodyThenTimestamp} {
			if signature.ValidateSecret(scheme, secret) != nil {
				continue
			}
			k, err := signature.Key(scheme, secret)
			if err != nil {
				t.Fatalf("ValidateSecret(%s, %q) accepted a secret Key refuses: %v", scheme, secret, err)
			}
			if scheme == signature.StandardWebhooks && (len(k) < 24 || len(k) > 64) {
				t.Fatalf("ValidateSecret(%s, %q) accepted a %d-byte key", scheme, secret, len(k))
			}
		}
	})
}

// Whatever the body, message id and valid secret, the verify package
// accepts what Sign writes and refuses it for another body.
func FuzzSignVerify(f *testing.F) {
	f.Add([]byte(`{"id":"evt_01"}`), "evt_01", "whsec_test_secret", int64(1767323045))
	f.Add([]byte(``), "msg_p5jXN8AQM9LWM0D4loKWxJek", "your_webhook_secret", int64(0))
	f.Add([]byte("\x00\xff. "), "a.b.c", "12345678", int64(1))
	f.Fuzz(func(t *testing.T, body []byte, msgID, secret string, unix int64) {
		if msgID == "" || unix < 0 || unix > 1e15 || signature.ValidateSecret(signature.Body, secret) != nil {
			t.Skip()
		}
		ts := time.Unix(unix, 0)
		for _, c := range []signature.Config{
			{},
			{Scheme: signature.Timestamped, Header: "X-Sig"},
			{Scheme: signature.Body, Header: "X-Sig"},
			{Scheme: signature.BodyThenTimestamp, Header: "X-Sig", TimestampHeader: "X-Ts"},
		} {
			s := secret
			if c.SchemeName() == signature.StandardWebhooks {
				s = signature.GenerateSecret()
			}
			h, err := signature.Sign(&c, []string{s}, msgID, ts, body)
			if err != nil {
				// Only a message id that cannot travel in webhook-id is refused.
				if c.SchemeName() == signature.StandardWebhooks && (strings.TrimSpace(msgID) != msgID || strings.ContainsFunc(msgID, isCTL)) {
					continue
				}
				t.Fatalf("%s: Sign(msgID %q): %v", c.SchemeName(), msgID, err)
			}
			vc := verify.Config{Scheme: c.Scheme, Header: c.Header, TimestampHeader: c.TimestampHeader}
			var opts []verify.Option
			if c.HasTimestamp() {
				opts = append(opts, verify.WithClock(func() time.Time { return ts }))
			}
			v, err := verify.New(vc, []string{s}, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if err := v.Verify(body, h); err != nil {
				t.Fatalf("%s: verify of Sign's headers: %v", c.SchemeName(), err)
			}
			if err := v.Verify(append(body[:len(body):len(body)], 'x'), h); !errors.Is(err, verify.ErrBadSignature) {
				t.Fatalf("%s: verify of another body: %v, want ErrBadSignature", c.SchemeName(), err)
			}
		}
	})
}

func isCTL(r rune) bool { return r < 0x20 || r == 0x7f }
