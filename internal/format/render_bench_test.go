package format_test

import (
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/format"
	"github.com/heraldhq/herald/internal/signature"
)

// benchEvent is an event of about 1 KiB of data, as herald bench posts.
func benchEvent() *format.Event {
	return &format.Event{
		TenantID: "bench", ID: "evt_01M8RQVZH17TTRT14E6SAJWM54", Type: "bench.event",
		Data:    []byte(`{"n":1,"pad":"` + strings.Repeat("herald-bench-", 70) + `"}`),
		TraceID: "0af7651916cd43dd8448eb211c80319c", CreatedAt: time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC),
	}
}

// BenchmarkRender is the hot path's sign+render: what the delivery engine
// does for every attempt before the request goes out. first-attempt reads
// the event's data, renders the body and signs it; retry signs the body an
// earlier attempt sent (read from the delivery, not rendered again), with
// the endpoint's own headers; rotation signs with two secrets.
func BenchmarkRender(b *testing.B) {
	f, _ := format.Builtin(format.StandardWebhooksName)
	secret, previous := signature.GenerateSecret(), signature.GenerateSecret()
	ev := benchEvent()
	ts := time.Date(2031, 3, 4, 5, 6, 8, 0, time.UTC)
	first, _ := format.NewInput(ev, "dlv_01M8RQVZH17TTRT14E6SAJWM55", "ep_01M8RQVZH17TTRT14E6SAJWM56")
	body := f.RenderBody(first)

	b.Run("first-attempt", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			in, err := format.NewInput(ev, "dlv_01M8RQVZH17TTRT14E6SAJWM55", "ep_01M8RQVZH17TTRT14E6SAJWM56")
			if err != nil {
				b.Fatal(err)
			}
			in.Timestamp, in.Attempt = ts, 1
			if _, err := f.Render(in, &format.RenderParams{Secrets: []string{secret}}); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(len(body)))
	})
	b.Run("retry", func(b *testing.B) {
		b.ReportAllocs()
		headers := map[string]string{"Authorization": "Bearer abc", "X-Tenant": "bench"}
		for b.Loop() {
			in, err := format.NewInput(ev, "dlv_01M8RQVZH17TTRT14E6SAJWM55", "ep_01M8RQVZH17TTRT14E6SAJWM56")
			if err != nil {
				b.Fatal(err)
			}
			in.Timestamp, in.Attempt = ts, 2
			if _, err := f.Render(in, &format.RenderParams{Body: body, Headers: headers, Secrets: []string{secret}}); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(len(body)))
	})
	b.Run("rotation", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			in, err := format.NewInput(ev, "dlv_01M8RQVZH17TTRT14E6SAJWM55", "ep_01M8RQVZH17TTRT14E6SAJWM56")
			if err != nil {
				b.Fatal(err)
			}
			in.Timestamp, in.Attempt = ts, 1
			if _, err := f.Render(in, &format.RenderParams{Secrets: []string{secret, previous}}); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(len(body)))
	})
}
