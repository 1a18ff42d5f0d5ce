package app_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

// BenchmarkDelivery measures the whole path on one machine: events posted
// over HTTP to a running server (API, store, engine), delivered signed to a
// local receiver. It reports deliveries per second and the p50/p99 latency
// from the moment the event's POST was sent until the receiver had it.
// b.N is the number of events; each goes to one endpoint.
//
//	go test ./internal/app -run '^$' -bench Delivery -benchtime 3000x
func BenchmarkDelivery(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		benchDelivery(b, "sqlite:"+filepath.Join(b.TempDir(), "bench.db"))
	})
	b.Run("postgres", func(b *testing.B) {
		if os.Getenv("HERALD_TEST_DATABASE_URL") == "" {
			b.Skip("HERALD_TEST_DATABASE_URL is unset")
		}
		benchDelivery(b, dbtest.PostgresURL(b))
	})
}

func benchDelivery(b *testing.B, dbURL string) {
	const adminKey = "hk_bench_admin_key_0123456789abcdef"
	var mu sync.Mutex
	arrived := map[string]time.Time{}
	all := make(chan struct{})
	want := b.N
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		now := time.Now()
		mu.Lock()
		if _, dup := arrived[r.Header.Get("webhook-id")]; !dup {
			arrived[r.Header.Get("webhook-id")] = now
			if len(arrived) == want {
				close(all)
			}
		}
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rc.Close()

	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, &app.Config{
			Addr: "127.0.0.1:0", DatabaseURL: dbURL, AdminKey: adminKey,
			AllowPrivateDestinations: true, Ready: ready,
		}, slog.New(slog.DiscardHandler))
	}()
	var base string
	select {
	case addr := <-ready:
		base = "http://" + addr
	case err := <-done:
		b.Fatalf("server: %v", err)
	}
	defer func() { cancel(); <-done }()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	post := func(path, body string) error {
		req, _ := http.NewRequest("POST", base+path, bytes.NewBufferString(body))
		req.Header.Set("Authorization", "Bearer "+adminKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			return fmt.Errorf("%s: %d %s", path, resp.StatusCode, raw)
		}
		return nil
	}
	if err := post("/api/v1/tenants", `{"id":"bench","name":"Bench"}`); err != nil {
		b.Fatal(err)
	}
	if err := post("/api/v1/tenants/bench/endpoints", `{"url":"`+rc.URL+`/hook","events":["*"]}`); err != nil {
		b.Fatal(err)
	}

	sent := make([]time.Time, b.N)
	const posters = 8
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for p := range posters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := p; i < b.N; i += posters {
				sent[i] = time.Now()
				body := fmt.Sprintf(`{"id":"e%d","type":"bench.event","data":{"n":%d,"name":"benchmark payload"}}`, i, i)
				if err := post("/api/v1/tenants/bench/events", body); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case <-all:
	case <-time.After(5 * time.Minute):
		b.Fatalf("only %d of %d deliveries arrived", len(arrived), b.N)
	}
	elapsed := time.Since(start)
	b.StopTimer()

	lat := make([]time.Duration, 0, b.N)
	mu.Lock()
	for i := range b.N {
		lat = append(lat, arrived[fmt.Sprintf("e%d", i)].Sub(sent[i]))
	}
	mu.Unlock()
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(0, "ns/op")
}
