package app_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

// benchDatabases are the databases every benchmark runs on: a fresh
// SQLite file, and a fresh PostgreSQL schema when HERALD_TEST_DATABASE_URL
// is set.
var benchDatabases = []struct {
	name string
	url  func(b *testing.B) string
}{
	{"sqlite", func(b *testing.B) string { return "sqlite:" + filepath.Join(b.TempDir(), "bench.db") }},
	{"postgres", func(b *testing.B) string {
		if os.Getenv("HERALD_TEST_DATABASE_URL") == "" {
			b.Skip("HERALD_TEST_DATABASE_URL is unset")
		}
		return dbtest.PostgresURL(b)
	}},
}

// poster POSTs JSON to the server at base with key, on kept-alive
// connections, and fails on any answer outside 2xx.
func poster(base, key string) func(path, body string) error {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	return func(path, body string) error {
		req, err := http.NewRequest("POST", base+path, bytes.NewBufferString(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+key)
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
}

// BenchmarkDelivery measures the whole path on one machine: events posted
// over HTTP to a running server (API, store, engine), delivered signed to
// local receivers. It reports deliveries per second and the p50/p99 latency
// from the moment the event's POST was sent until the receiver had it.
// b.N is the number of events.
//
//   - saturated/N-endpoints: 8 clients post as fast as they can; each event
//     fans out to N endpoints. Throughput; latency includes queueing.
//
//   - paced-200/s: events posted at 200 a second to one endpoint, well below
//     capacity: the latency a single event sees.
//
//     go test ./internal/app -run '^$' -bench Delivery -benchtime 3000x
func BenchmarkDelivery(b *testing.B) {
	for _, db := range benchDatabases {
		b.Run(db.name+"/saturated/1-endpoint", func(b *testing.B) { benchDelivery(b, db.url(b), 1, 0) })
		b.Run(db.name+"/saturated/4-endpoints", func(b *testing.B) { benchDelivery(b, db.url(b), 4, 0) })
		b.Run(db.name+"/saturated/10-endpoints", func(b *testing.B) { benchDelivery(b, db.url(b), 10, 0) })
		b.Run(db.name+"/paced-200/s", func(b *testing.B) { benchDelivery(b, db.url(b), 1, 200) })
	}
}

// benchDelivery posts b.N events, each to endpoints endpoints, at perSecond
// events a second (0: as fast as 8 clients can).
func benchDelivery(b *testing.B, dbURL string, endpoints, perSecond int) {
	const adminKey = "hk_bench_admin_key_0123456789abcdef"
	var mu sync.Mutex
	arrived := map[string]time.Time{} // path + webhook-id -> when
	last := map[string]time.Time{}    // webhook-id -> last arrival over all endpoints
	all := make(chan struct{})
	want := b.N * endpoints
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		now := time.Now()
		id := r.Header.Get("webhook-id")
		mu.Lock()
		if _, dup := arrived[r.URL.Path+id]; !dup {
			arrived[r.URL.Path+id] = now
			last[id] = now
			if len(arrived) == want {
				close(all)
			}
		}
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rc.Close()

	srv, _ := runServer(b, &app.Config{DatabaseURL: dbURL, AdminKey: adminKey, AllowPrivateDestinations: true}, nil)
	base := srv.base

	post := poster(base, adminKey)
	if err := post("/api/v1/tenants", `{"id":"bench","name":"Bench"}`); err != nil {
		b.Fatal(err)
	}
	for i := range endpoints {
		if err := post("/api/v1/tenants/bench/endpoints", fmt.Sprintf(`{"url":"%s/hook%d","events":["*"]}`, rc.URL, i)); err != nil {
			b.Fatal(err)
		}
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
				if perSecond > 0 {
					time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(perSecond))))
				}
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
		b.Fatalf("only %d of %d deliveries arrived", len(arrived), want)
	}
	elapsed := time.Since(start)
	b.StopTimer()

	lat := make([]time.Duration, 0, b.N)
	mu.Lock()
	for i := range b.N {
		lat = append(lat, last[fmt.Sprintf("e%d", i)].Sub(sent[i]))
	}
	mu.Unlock()
	slices.Sort(lat)
	b.ReportMetric(float64(want)/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkIngest measures events accepted per second over HTTP: 32
// clients post 1 KiB events as fast as they can to a tenant with no
// endpoints, each answered 202 only after its event committed. b.N is the
// number of events.
//
//	go test ./internal/app -run '^$' -bench Ingest -benchtime 5000x
func BenchmarkIngest(b *testing.B) {
	for _, db := range benchDatabases {
		b.Run(db.name, func(b *testing.B) {
			const adminKey = "hk_bench_admin_key_0123456789abcdef"
			srv, _ := runServer(b, &app.Config{DatabaseURL: db.url(b), AdminKey: adminKey}, nil)
			post := poster(srv.base, adminKey)
			if err := post("/api/v1/tenants", `{"id":"bench","name":"Bench"}`); err != nil {
				b.Fatal(err)
			}
			pad := strings.Repeat("x", 1000)
			const posters = 32
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for p := range posters {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := p; i < b.N; i += posters {
						if err := post("/api/v1/tenants/bench/events", fmt.Sprintf(`{"id":"e%d","type":"bench.event","data":{"n":%d,"pad":"%s"}}`, i, i, pad)); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}
