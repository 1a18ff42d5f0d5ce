package delivery

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/format"
	"github.com/heraldhq/herald/internal/signature"
	"github.com/heraldhq/herald/internal/store"
)

// benchReceiver answers every POST once it has read the body, after hold:
// 204, or 200 with answer when there is one. It listens over TLS if asked,
// and counts the connections it was opened.
func benchReceiver(b *testing.B, hold time.Duration, tls bool, answer string) (*httptest.Server, *atomic.Int64) {
	b.Helper()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if hold > 0 {
			time.Sleep(hold)
		}
		if answer != "" {
			_, _ = io.WriteString(w, answer)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	b.Cleanup(srv.Close)
	return srv, &conns
}

// benchClaimed is a claimed delivery of an event of about 1 KiB of data,
// as herald bench posts, to url.
func benchClaimed(url string) *store.Claimed {
	now := time.Now()
	return &store.Claimed{
		Delivery: &store.Delivery{ID: "dlv_01M8RQVZH17TTRT14E6SAJWM55", TenantID: "bench", EventID: "evt_01M8RQVZH17TTRT14E6SAJWM54", EndpointID: "ep_01M8RQVZH17TTRT14E6SAJWM56"},
		Event: &store.Event{
			TenantID: "bench", ID: "evt_01M8RQVZH17TTRT14E6SAJWM54", Type: "bench.event",
			Data:    []byte(`{"n":1,"pad":"` + strings.Repeat("herald-bench-", 70) + `"}`),
			TraceID: "0af7651916cd43dd8448eb211c80319c", Source: store.SourceAPI, CreatedAt: now,
		},
		Endpoint: &store.Endpoint{
			ID: "ep_01M8RQVZH17TTRT14E6SAJWM56", TenantID: "bench", URL: url,
			Secret: signature.GenerateSecret(), Enabled: true,
		},
		LeaseUntil: now.Add(time.Minute),
	}
}

// BenchmarkAttempt is one attempt as a worker makes it, against a local
// receiver, up to the hand-off to the completer: the format, the event's
// data read, the body rendered (first) or taken from the earlier attempt
// (retry), signed, sent on a kept-alive connection, the answer (204, or
// 200 "ok" in first-200-ok) read, the attempt record built. burst-64-tls reports the connections the
// receiver was opened per attempt: above 0, the pool was closing
// connections it then had to dial again.
func BenchmarkAttempt(b *testing.B) {
	srv, _ := benchReceiver(b, 0, false, "")
	newEngine := func(workers int) *Engine {
		return NewEngine(Config{
			Formats: catalog.New(nil, "", nil), Workers: workers,
			Client: NewHTTPClient(ClientConfig{AllowPrivate: true, Workers: workers}),
		})
	}
	run := func(b *testing.B, e *Engine, c *store.Claimed) {
		var got *store.Attempt
		e.attempt(context.Background(), c, onSchedule,
			func(cp *completion) { cp.done(cp.p.Attempt, nil) },
			func(a *store.Attempt) { got = a })
		if got == nil || got.ResponseCode/100 != 2 || got.Error != "" {
			b.Fatalf("attempt = %+v, want a 2xx", got)
		}
	}
	b.Run("first", func(b *testing.B) {
		e, c := newEngine(32), benchClaimed(srv.URL)
		b.ReportAllocs()
		for b.Loop() {
			run(b, e, c)
		}
	})
	b.Run("retry", func(b *testing.B) {
		e, c := newEngine(32), benchClaimed(srv.URL)
		f, _ := format.Builtin(format.StandardWebhooksName)
		in, _ := format.NewInput(formatEvent(c.Event), c.Delivery.ID, c.Endpoint.ID)
		c.Body = f.RenderBody(in)
		c.Delivery.Attempts, c.Delivery.SeriesAttempts = 1, 1
		b.ReportAllocs()
		for b.Loop() {
			run(b, e, c)
		}
	})
	b.Run("first-200-ok", func(b *testing.B) {
		// As first, against a receiver that answers 200 "ok": the answer
		// has a body to read and keep.
		srv, _ := benchReceiver(b, 0, false, "ok")
		e, c := newEngine(32), benchClaimed(srv.URL)
		b.ReportAllocs()
		for b.Loop() {
			run(b, e, c)
		}
	})
	b.Run("burst-64-tls", func(b *testing.B) {
		// Bursts of 64 attempts at once to one HTTPS host, as a claim of
		// 64 deliveries for endpoints sharing a host sends them, on an
		// engine of 64 workers. Between bursts every connection goes back
		// to the pool; those the pool has no room for are closed, and the
		// next burst dials them again, TLS handshake and all.
		srv, conns := benchReceiver(b, time.Millisecond, true, "")
		e := newEngine(64)
		e.cfg.Client.Transport.(*http.Transport).TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
		const burst = 64
		cs := make([]*store.Claimed, burst)
		for i := range cs {
			cs[i] = benchClaimed(srv.URL)
		}
		b.ReportAllocs()
		before := conns.Load()
		for b.Loop() {
			var wg sync.WaitGroup
			for _, c := range cs {
				wg.Go(func() { run(b, e, c) })
			}
			wg.Wait()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*burst), "ns/attempt")
		b.ReportMetric(float64(conns.Load()-before)/float64(b.N*burst), "dials/attempt")
	})
}
