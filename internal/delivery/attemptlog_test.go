package delivery_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

// logBuffer is a log destination safe for the engine's goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lines decodes every JSON line logged with message msg.
func (l *logBuffer) lines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Every attempt's outcome is one log line with the ids, the status it left
// the delivery in and what the receiver answered, and nothing of the
// request or the answer beyond that: not the endpoint's secret, its
// headers, the event's data, the signature, or the answer's body.
func TestEngine_LogsOneLinePerAttemptOutcome(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(t0)
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		var logs logBuffer
		b := setup(t, st, onClock(fake), func(cfg *delivery.Config) {
			cfg.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		})
		b.putFormat(t, `{"name":"patient","retry":{"schedule":["1h"]}}`)
		rc := newReceiver(t)
		rc.setRespond(func(n int, _ *http.Request, w http.ResponseWriter) {
			if n == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte("answer-body-marker: down"))
				return
			}
			_, _ = w.Write([]byte("answer-body-marker: ok"))
		})
		ep := b.endpoint(t, rc.URL, []string{"*"}, func(e *store.Endpoint) {
			e.Format = "patient"
			e.Headers = map[string]string{"X-Api-Token": "header-secret-marker"}
		})
		b.run(t)
		res := b.send(t, "user.created", `{"email":"data-marker@example.com"}`)
		id := res.Deliveries[0].ID
		d := b.waitAttempts(t, id, 1)
		b.advanceTo(t, *d.NextAttemptAt, "the retry to deliver", func() bool { return b.get(t, id).Status == store.StatusDelivered })
		waitFor(t, "two attempt lines", 10*time.Second, func() bool { return len(logs.lines(t, "attempt")) == 2 })

		lines := logs.lines(t, "attempt")
		for i, want := range []struct {
			status, level string
			code          float64
		}{{store.StatusRetrying, "INFO", 503}, {store.StatusDelivered, "INFO", 200}} {
			l := lines[i]
			if l["status"] != want.status || l["level"] != want.level || l["response_code"] != want.code || l["attempt"] != float64(i+1) ||
				l["delivery_id"] != id || l["endpoint_id"] != ep.ID || l["tenant_id"] != b.tenant || l["event_id"] != res.Event.ID ||
				l["event_type"] != "user.created" || l["duration_ms"] == nil || l["attempt_id"] == nil {
				t.Errorf("attempt %d logged %v, want %s %s, code %v, with every id", i+1, l, want.level, want.status, want.code)
			}
		}
		if _, ok := lines[0]["next_attempt_at"]; !ok {
			t.Errorf("the retrying attempt's line has no next_attempt_at: %v", lines[0])
		}
		all := logs.String()
		sig := rc.got()[0].header.Get("webhook-signature")
		for what, secret := range map[string]string{
			"the endpoint's secret": ep.Secret, "its header": "header-secret-marker", "the event's data": "data-marker",
			"the answer's body": "answer-body-marker", "the signature": sig,
		} {
			if secret == "" || strings.Contains(all, secret) {
				t.Errorf("the log holds %s (%q):\n%s", what, secret, all)
			}
		}
	})
}

// An attempt that fails the delivery for good is a warning.
func TestEngine_LogsAFinalFailureAsAWarning(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		var logs logBuffer
		b := setup(t, st, func(cfg *delivery.Config) { cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil)) })
		b.putFormat(t, `{"name":"once","retry":{"schedule":[]}}`)
		rc := newReceiver(t)
		rc.setRespond(func(_ int, _ *http.Request, w http.ResponseWriter) { w.WriteHeader(http.StatusGone) })
		b.endpoint(t, rc.URL, []string{"user.created"}, func(e *store.Endpoint) { e.Format = "once" })
		b.run(t)
		id := b.send(t, "user.created", `{}`).Deliveries[0].ID
		b.waitStatus(t, id, store.StatusFailed, 10*time.Second)
		waitFor(t, "the attempt line", 10*time.Second, func() bool { return len(logs.lines(t, "attempt")) == 1 })
		if l := logs.lines(t, "attempt")[0]; l["level"] != "WARN" || l["status"] != store.StatusFailed || l["response_code"] != float64(410) {
			t.Fatalf("final failure logged %v, want a WARN line with status failed and code 410", l)
		}
	})
}
