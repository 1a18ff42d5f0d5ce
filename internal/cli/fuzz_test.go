package cli

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/format"
	"github.com/heraldhq/herald/verify"
)

// fuzzSecret signs the seed corpus; the fuzzer mutates what was signed.
const fuzzSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func fuzzSeeds(f *testing.F) {
	std, _ := format.Builtin(format.StandardWebhooksName)
	out, err := buildDelivery(std, []string{fuzzSecret}, "user.created", []byte(testData), time.Now())
	if err != nil {
		f.Fatal(err)
	}
	h := out.Header
	f.Add(out.Body, h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature"))
	f.Add([]byte(`{"id": 1, "type": ["x"]}`), "evt_1", "1767323045", "v1,AAAA v2,BBBB")
	f.Add([]byte("\xff\xfe not json"), "", "-1", "v1,")
	f.Add([]byte(`[]`), "a\u2028b", "99999999999999999999", strings.Repeat("v1,x ", 100))
	f.Add([]byte(""), "evt_1", "", "")
}

// Whatever a sender puts in the body and the signature headers, herald
// listen answers 200 exactly when the verify package accepts the request,
// 401 otherwise, and prints it without failing.
func FuzzListenRequest(f *testing.F) {
	fuzzSeeds(f)
	v, err := verify.NewStandard([]string{fuzzSecret})
	if err != nil {
		f.Fatal(err)
	}
	l := &listener{out: io.Discard, path: "/", cfg: verify.Config{Scheme: verify.StandardWebhooks}, v: v, nSecrets: 1, now: time.Now}
	f.Fuzz(func(t *testing.T, body []byte, id, ts, sig string) {
		r := httptest.NewRequest(http.MethodPost, "/webhooks", bytes.NewReader(body))
		for name, value := range map[string]string{"webhook-id": id, "webhook-timestamp": ts, "webhook-signature": sig} {
			if value != "" {
				r.Header[http.CanonicalHeaderKey(name)] = []string{value}
			}
		}
		want := v.Verify(body, r.Header)
		w := httptest.NewRecorder()
		l.ServeHTTP(w, r)
		switch {
		case want == nil && w.Code != http.StatusOK:
			t.Errorf("listen answered %d to a request the verify package accepts", w.Code)
		case want != nil && w.Code != http.StatusUnauthorized:
			t.Errorf("listen answered %d to a request the verify package refuses (%v), want 401", w.Code, want)
		}
	})
}

// herald verify decides as the verify package does on any input, and its
// report names the result.
func FuzzVerifyReport(f *testing.F) {
	fuzzSeeds(f)
	cfg := verify.Config{Scheme: verify.StandardWebhooks}
	v, err := verify.New(cfg, []string{fuzzSecret})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, id, ts, sig string) {
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", ts)
		h.Set("webhook-signature", sig)
		var out bytes.Buffer
		err := runVerify(&out, v, cfg, "fuzz", body, h, 1, verify.DefaultTolerance, time.Now())
		want := v.Verify(body, h)
		if (err == nil) != (want == nil) {
			t.Fatalf("herald verify: %v, the verify package: %v", err, want)
		}
		if mark := "result:          OK"; strings.Contains(out.String(), mark) != (want == nil) {
			t.Errorf("report says %q: %v, want %v:\n%s", mark, !(want == nil), want == nil, out.String())
		}
	})
}
