package signature_test

import (
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/signature"
)

// BenchmarkSign signs a body of about 1 KiB, as every attempt does, with
// each scheme; standard-webhooks-rotation signs with two secrets, as
// during a rotation's grace period.
func BenchmarkSign(b *testing.B) {
	body := []byte(`{"id":"evt_01M8RQVZH17TTRT14E6SAJWM54","type":"bench.event","data":{"n":1,"pad":"` + strings.Repeat("herald-bench-", 70) + `"}}`)
	ts := time.Unix(1767323045, 0)
	secret, previous := signature.GenerateSecret(), signature.GenerateSecret()
	for _, tc := range []struct {
		name    string
		cfg     signature.Config
		secrets []string
	}{
		{"standard-webhooks", signature.Config{}, []string{secret}},
		{"standard-webhooks-rotation", signature.Config{}, []string{secret, previous}},
		{"timestamped", signature.Config{Scheme: signature.Timestamped, Header: "Stripe-Signature"}, []string{secret}},
		{"body", signature.Config{Scheme: signature.Body, Header: "X-Hub-Signature-256"}, []string{secret}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := signature.Sign(&tc.cfg, tc.secrets, "evt_01M8RQVZH17TTRT14E6SAJWM54", ts, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
