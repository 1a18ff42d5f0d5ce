package verify

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	svix "github.com/svix/svix-webhooks/go"
)

// What the Standard Webhooks and Svix libraries sign, this package verifies,
// also when a rotation puts both libraries' signatures for two secrets in
// one header. (Only the tests use the libraries; the package itself is
// standard library only.)
func TestLibrariesSign(t *testing.T) {
	t.Parallel()
	const (
		oldSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		newSecret = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
		msgID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	)
	body := []byte(`{"type": "example.created", "timestamp":"2023-09-28T19:20:22+00:00", "data":{"str":"string","bool":true,"int":42}}`)
	ts := time.Unix(1767323045, 0)
	sw, err := standardwebhooks.NewWebhook(newSecret)
	if err != nil {
		t.Fatal(err)
	}
	sx, err := svix.NewWebhook(oldSecret)
	if err != nil {
		t.Fatal(err)
	}
	sigNew, _ := sw.Sign(msgID, ts, body)
	sigOld, _ := sx.Sign(msgID, ts, body)
	h := http.Header{}
	h.Set("webhook-id", msgID)
	h.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	h.Set("webhook-signature", sigNew+" "+sigOld)

	clock := WithClock(func() time.Time { return ts.Add(10 * time.Second) })
	for _, secrets := range [][]string{{newSecret}, {oldSecret}, {newSecret, oldSecret}, {"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}} {
		v, err := NewStandard(secrets, clock)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Verify(body, h); err != nil {
			t.Errorf("Verify with %q of the libraries' signatures: %v, want nil", secrets, err)
		}
	}
	v, _ := NewStandard([]string{"whsec_" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}, clock)
	if err := v.Verify(body, h); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Verify with a secret that did not sign: %v, want ErrBadSignature", err)
	}
}
