package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald/internal/format"
	"github.com/heraldhq/herald/internal/signature"
)

// eventType is the type of every event the bench posts; endpoints take
// "bench.*", so failure events Herald raises reach none of them.
const eventType = "bench.event"

// pad fills an event's data so that its delivery is about 1 KiB.
var pad = strings.Repeat("herald-bench-", 70)

// quotedPad is pad as a JSON string, quoted once: quoting it for every
// request was a tenth of the CPU of a loaded bench, spent by the load tool
// rather than by the server it measures.
var quotedPad = strconv.Quote(pad)

// eventData is the data of event i.
func eventData(i int) []byte {
	return fmt.Appendf(nil, `{"n":%d,"pad":%s}`, i, quotedPad)
}

// eventBody is the API request that posts event i, with the id "e<i>"
// that comes back as its webhook-id.
func eventBody(i int) []byte {
	return fmt.Appendf(nil, `{"id":"e%d","type":%q,"data":%s}`, i, eventType, eventData(i))
}

// client drives Herald's HTTP API with one keep-alive pool shared by every
// producer.
type client struct {
	base string
	key  string
	http *http.Client
}

func newClient(base, key string, conns int) *client {
	return &client{base: strings.TrimSuffix(base, "/"), key: key, http: newHTTPClient(conns)}
}

// newHTTPClient keeps a connection open for every producer, so that no
// figure pays for TCP handshakes.
func newHTTPClient(conns int) *http.Client {
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		MaxIdleConns: 2 * conns, MaxIdleConnsPerHost: 2 * conns, IdleConnTimeout: 90 * time.Second,
		DisableCompression: true,
	}}
}

// call sends one API request; a status outside 2xx is an error carrying
// the answer.
func (c *client) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(raw))
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return nil
}

// postEvent posts event i and reads the answer, which must be 202.
func (c *client) postEvent(ctx context.Context, tenant string, i int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/api/v1/tenants/"+tenant+"/events", bytes.NewReader(eventBody(i)))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("post event e%d: %w", i, err)
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("post event e%d: %w", i, err)
	}
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("post event e%d: %s: %s", i, resp.Status, bytes.TrimSpace(raw))
	}
	return nil
}

// load is one run of producers: n requests, numbered 0..n-1, sent by
// producers goroutines, each taking the next number. At rate > 0 request
// i is not sent before start + i/rate; at 0 they go as fast as answers
// come back.
type load struct {
	n         int
	producers int
	rate      float64
	// sent[i] is when request i was sent (unix nanoseconds), answered[i]
	// when its answer had been read.
	sent, answered []int64
	done           atomic.Int64
	start, end     time.Time
}

func newLoad(n, producers int, rate float64) *load {
	return &load{n: n, producers: max(producers, 1), rate: rate, sent: make([]int64, n), answered: make([]int64, n)}
}

// run sends every request with send and returns the first error, after
// which the producers stop.
func (l *load) run(ctx context.Context, send func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	l.start = time.Now()
	for range l.producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= l.n || ctx.Err() != nil {
					return
				}
				if l.rate > 0 {
					at := l.start.Add(time.Duration(float64(i) / l.rate * float64(time.Second)))
					if d := time.Until(at); d > 0 {
						select {
						case <-time.After(d):
						case <-ctx.Done():
							return
						}
					}
				}
				l.sent[i] = time.Now().UnixNano()
				if err := send(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
				l.answered[i] = time.Now().UnixNano()
				l.done.Add(1)
			}
		}()
	}
	wg.Wait()
	l.end = time.Now()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	return first
}

// rawSender sends what Herald would send for event i, rendered and signed
// with the standard-webhooks format as the delivery engine does, straight
// to a receiver: the ceiling of the machine for this much work.
type rawSender struct {
	f      *format.Format
	secret string
	url    string
	http   *http.Client
}

func newRawSender(url string, conns int) *rawSender {
	f, _ := format.Builtin("standard-webhooks")
	return &rawSender{f: f, secret: signature.GenerateSecret(), url: url, http: newHTTPClient(conns)}
}

func (s *rawSender) send(ctx context.Context, i int) error {
	now := time.Now()
	id := fmt.Sprintf("e%d", i)
	in, err := format.NewInput(&format.Event{
		TenantID: "bench", ID: id, Type: eventType, Data: eventData(i), TraceID: "0af7651916cd43dd8448eb211c80319c", CreatedAt: now,
	}, "dlv_bench", "ep_bench")
	if err != nil {
		return err
	}
	in.Timestamp, in.Attempt = now, 1
	out, err := s.f.Render(in, &format.RenderParams{Secrets: []string{s.secret}})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(out.Body))
	if err != nil {
		return err
	}
	req.Header = out.Header
	resp, err := s.http.Do(req)
	if err != nil {
		return fmt.Errorf("raw send: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return errors.New("raw send: receiver answered " + resp.Status)
	}
	return nil
}
