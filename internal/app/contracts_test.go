package app_test

// One end-to-end test per contract of docs/formats.md: the format is created
// through the API, events are posted, and a receiver that checks exactly
// what that contract's receivers are told to check asserts on what arrives.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// capture is a receiver that keeps every request and answers as told.
type capture struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []*captured
	respond func(n int, c *captured) int // n counts from 1; returns the status
}

type captured struct {
	path   string
	header http.Header
	body   []byte
	at     time.Time
}

func newCapture(t *testing.T, respond func(n int, c *captured) int) *capture {
	t.Helper()
	c := &capture{respond: respond}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got := &captured{path: r.URL.Path, header: r.Header.Clone(), body: body, at: time.Now()}
		c.mu.Lock()
		c.reqs = append(c.reqs, got)
		n := len(c.reqs)
		c.mu.Unlock()
		code := http.StatusOK
		if c.respond != nil {
			code = c.respond(n, got)
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *capture) all() []*captured {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*captured(nil), c.reqs...)
}

func (c *capture) wait(t *testing.T, n int, timeout time.Duration) []*captured {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if got := c.all(); len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("receiver got %d requests in %s, want %d", len(c.all()), timeout, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func hmacHex(key, msg string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

// stripeLike verifies a "t=<unix>,v1=<hex>" header over "{t}.{raw body}"
// the way Stripe-style receivers do: any v1 may match, and t may be at most
// 5 minutes old.
func stripeLike(header, secret string, body []byte) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("no timestamp in %q", header)
	}
	if age := time.Since(time.Unix(t, 0)); age > 5*time.Minute || age < -5*time.Minute {
		return fmt.Errorf("timestamp %d outside the 5 minute tolerance", t)
	}
	want := hmacHex(secret, ts+"."+string(body))
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return fmt.Errorf("no v1 signature matches in %q", header)
}

func decodeOrdered(t *testing.T, body []byte) ([]string, map[string]any) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body %s is not a JSON object: %v", body, err)
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	_, _ = dec.Token()
	var keys []string
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string))
		var skip json.RawMessage
		_ = dec.Decode(&skip)
	}
	return keys, m
}

func setupTenant(t *testing.T, l *live, format string, name string) {
	t.Helper()
	l.must(http.StatusCreated, "PUT", "/api/v1/formats/"+name, json.RawMessage(format))
	if code, _ := l.do("GET", "/api/v1/tenants/acme", nil); code == http.StatusNotFound {
		l.must(http.StatusCreated, "POST", "/api/v1/tenants", map[string]any{"id": "acme", "name": "Acme"})
	}
}

func endpoint(t *testing.T, l *live, url, format string, events []string, secret string) (id, sec string) {
	t.Helper()
	body := map[string]any{"url": url, "format": format, "events": events}
	if secret != "" {
		body["secret"] = secret
	}
	out := l.must(http.StatusCreated, "POST", "/api/v1/tenants/acme/endpoints", body)
	return out["id"].(string), out["secret"].(string)
}

func delivery(t *testing.T, l *live, id string) map[string]any {
	t.Helper()
	return l.must(http.StatusOK, "GET", "/api/v1/tenants/acme/deliveries/"+id, nil)
}

func deliveryOf(t *testing.T, l *live, eventID string) map[string]any {
	t.Helper()
	out := l.must(http.StatusOK, "GET", "/api/v1/tenants/acme/events/"+eventID+"/deliveries", nil)
	data := out["data"].([]any)
	if len(data) != 1 {
		t.Fatalf("event %s has %d deliveries, want 1", eventID, len(data))
	}
	return data[0].(map[string]any)
}

// waitDelivery polls a delivery until cond holds.
func waitDelivery(t *testing.T, l *live, id string, timeout time.Duration, cond func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		d := delivery(t, l, id)
		if cond(d) {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery %s did not reach the expected state in %s: %v", id, timeout, d)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

func statusIs(s string) func(map[string]any) bool {
	return func(d map[string]any) bool { return d["status"] == s }
}

// nextAttemptWithin checks the stored next attempt is delay after the last
// attempt's start, give or take the 10% jitter.
func nextAttemptWithin(t *testing.T, d map[string]any, delay time.Duration) {
	t.Helper()
	atts := d["attempts"].([]any)
	last := atts[len(atts)-1].(map[string]any)
	started, err := time.Parse(time.RFC3339Nano, last["started_at"].(string))
	if err != nil {
		t.Fatal(err)
	}
	next, err := time.Parse(time.RFC3339Nano, fmt.Sprint(d["next_attempt_at"]))
	if err != nil {
		t.Fatalf("next_attempt_at %v: %v", d["next_attempt_at"], err)
	}
	gap := next.Sub(started)
	if gap < delay || gap > delay+delay/10+2*time.Second {
		t.Errorf("next attempt %s after the last, want %s (+ at most 10%% jitter)", gap, delay)
	}
}

// Contract A: two headers, {body}.{timestamp}, python-style body that the
// receiver re-serialises with Python's json.dumps before verifying.
func TestContractA_BodyThenTimestampPython(t *testing.T) {
	t.Parallel()
	python, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("python3 is not installed: contract A's receiver is Python")
		}
		t.Skip("python3 is not installed: contract A's receiver is Python")
	}
	l := startLive(t, "")
	setupTenant(t, l, `{
		"name": "clasp",
		"signature": {"scheme": "body-then-timestamp", "header": "Clasp-Event-Signature", "timestamp_header": "Clasp-Event-Timestamp"},
		"json": "python",
		"body": {
			"id": "{{event.id}}", "event_type": "{{event.data.event_type}}", "object_id": "{{event.data.object_id}}",
			"object_type": "{{event.data.object_type}}", "employer": "{{event.data.employer}}", "created_at": "{{event.created_at}}"
		},
		"retry": {"schedule": ["1m", "2m", "4m", "8m", "16m", "32m", "1h", "2h", "4h", "8h"]}
	}`, "clasp")
	// The body's keys must reach the receiver in the template's order.
	rc := newCapture(t, func(n int, _ *captured) int {
		if n == 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	const secret = "clasp_secret_for_tests"
	_, _ = endpoint(t, l, rc.URL, "clasp", []string{"*"}, secret)

	l.must(http.StatusAccepted, "POST", "/api/v1/tenants/acme/events", map[string]any{
		"id": "evnt_5tQp2", "type": "employer.updated",
		"data": map[string]any{"event_type": "updated", "object_id": "er_9", "object_type": "employer", "employer": "er_9", "note": "Zoë"},
	})
	got := rc.wait(t, 1, 10*time.Second)[0]

	// The receiver, as Clasp documents it, in Python: parse, json.dumps, sign.
	script := `
import hashlib, hmac, json, os, sys
body = sys.stdin.buffer.read()
payload = json.dumps(json.loads(body))
ts = os.environ["TS"]
expected = hmac.new(os.environ["SECRET"].encode(), (payload + "." + ts).encode(), hashlib.sha256).hexdigest()
ok = hmac.compare_digest(expected, os.environ["SIG"])
print("ok" if ok else "bad", "same-bytes" if payload.encode() == body else "different-bytes")
`
	cmd := exec.Command(python, "-c", script)
	cmd.Env = append(os.Environ(), "TS="+got.header.Get("Clasp-Event-Timestamp"), "SIG="+got.header.Get("Clasp-Event-Signature"), "SECRET="+secret)
	cmd.Stdin = strings.NewReader(string(got.body))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python receiver: %v: %s", err, out)
	}
	if strings.TrimSpace(string(out)) != "ok same-bytes" {
		t.Errorf("python receiver says %q, want %q; body %s", out, "ok same-bytes", got.body)
	}
	keys, m := decodeOrdered(t, got.body)
	if strings.Join(keys, ",") != "id,event_type,object_id,object_type,employer,created_at" {
		t.Errorf("body keys %v", keys)
	}
	if m["id"] != "evnt_5tQp2" || m["event_type"] != "updated" || m["object_id"] != "er_9" || m["object_type"] != "employer" || m["employer"] != "er_9" {
		t.Errorf("body %s", got.body)
	}
	if ts, _ := strconv.ParseInt(got.header.Get("Clasp-Event-Timestamp"), 10, 64); time.Since(time.Unix(ts, 0)).Abs() > time.Minute {
		t.Errorf("Clasp-Event-Timestamp %q is not the attempt's Unix time", got.header.Get("Clasp-Event-Timestamp"))
	}

	// An error status is retried, on the contract's 10-step schedule.
	ev2 := l.must(http.StatusAccepted, "POST", "/api/v1/tenants/acme/events", map[string]any{
		"id": "evnt_second", "type": "employer.updated", "data": map[string]any{"event_type": "updated", "object_id": "er_1", "object_type": "employer", "employer": "er_1"},
	})
	d := deliveryOf(t, l, ev2["id"].(string))
	d = waitDelivery(t, l, d["id"].(string), 10*time.Second, statusIs("retrying"))
	nextAttemptWithin(t, d, time.Minute)
	f := l.must(http.StatusOK, "GET", "/api/v1/formats/clasp", nil)
	if n := len(f["retry"].(map[string]any)["schedule"].([]any)); n != 10 {
		t.Errorf("schedule has %d retries, want up to 10", n)
	}
}

// Contract B: GitHub-like "sha256=<hex HMAC of the raw body>", no timestamp.
func TestContractB_BodySignature(t *testing.T) {
	t.Parallel()
	l := startLive(t, "")
	setupTenant(t, l, `{
		"name": "example-api",
		"signature": {"scheme": "body", "header": "X-Webhook-Signature", "prefix": "sha256="},
		"json": "compact",
		"headers": {"X-Webhook-Id": "{{endpoint.id}}", "X-Webhook-Event": "{{event.type}}", "User-Agent": "ExampleAPI-Webhooks/1.0"},
		"body": {"id": "{{event.id}}", "type": "{{event.type}}", "created_at": "{{event.created_at}}", "data": "{{event.data}}"},
		"retry": {"schedule": ["1m", "5m", "30m", "1h", "6h"], "on": "non-2xx"}
	}`, "example-api")
	rc := newCapture(t, func(n int, c *captured) int {
		if strings.HasSuffix(c.path, "/failing") {
			return http.StatusNotFound
		}
		return http.StatusOK
	})
	const secret = "your_webhook_secret"
	epID, _ := endpoint(t, l, rc.URL+"/ok", "example-api", []string{"user.created"}, secret)
	failing, _ := endpoint(t, l, rc.URL+"/failing", "example-api", []string{"user.deleted"}, secret)

	ev := l.must(http.StatusAccepted, "POST", "/api/v1/tenants/acme/events", map[string]any{
		"type": "user.created", "data": json.RawMessage(`{"id": "usr_1", "html": "<b>&</b>", "n": 1.5, "name": "Zo\u00eb"}`),
	})
	got := rc.wait(t, 1, 10*time.Second)[0]
	sig := got.header.Get("X-Webhook-Signature")
	if !strings.HasPrefix(sig, "sha256=") || !hmac.Equal([]byte(sig[7:]), []byte(hmacHex(secret, string(got.body)))) {
		t.Errorf("X-Webhook-Signature %q does not verify over the raw body", sig)
	}
	if got.header.Get("X-Webhook-Id") != epID || got.header.Get("X-Webhook-Event") != "user.created" || got.header.Get("User-Agent") != "ExampleAPI-Webhooks/1.0" {
		t.Errorf("headers %v", got.header)
	}
	keys, m := decodeOrdered(t, got.body)
	if strings.Join(keys, ",") != "id,type,created_at,data" || m["id"] != ev["id"] || m["type"] != "user.created" {
		t.Errorf("body %s", got.body)
	}
	if _, err := time.Parse(time.RFC3339, m["created_at"].(string)); err != nil {
		t.Errorf("created_at: %v", err)
	}
	// Receivers may verify JSON.stringify(JSON.parse(body)) instead of the raw
	// bytes: in compact style they are the same bytes.
	if node, err := exec.LookPath("node"); err == nil {
		cmd := exec.Command(node, "-e", `let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.stringify(JSON.parse(s))))`)
		cmd.Stdin = strings.NewReader(string(got.body))
		out, err := cmd.Output()
		if err != nil || string(out) != string(got.body) {
			t.Errorf("JSON.stringify(JSON.parse(body)) = %s (%v), want the body %s", out, err, got.body)
		}
	}
	// Any non-2xx is retried: first after 1 minute, 6 attempts in all.
	ev2 := l.must(http.StatusAccepted, "POST", "/api/v1/tenants/acme/events", map[string]any{"type": "user.deleted", "data": map[string]any{}})
	d := deliveryOf(t, l, ev2["id"].(string))
	if d["endpoint_id"] != failing {
		t.Fatalf("delivery went to %v", d["endpoint_id"])
	}
	d = waitDelivery(t, l, d["id"].(string), 10*time.Second, statusIs("retrying"))
	nextAttemptWithin(t, d, time.Minute)
}

// Contract C: Stripe-like t=,v1= over {t}.{raw body}; retries only 5xx,
// timeouts and connection failures, after 1s, 5s, 25s, 125s and 10m.
func TestContractC_StripeLike(t *testing.T) {
	t.Parallel()
	l := startLive(t, "")
	setupTenant(t, l, `{
		"name": "clearway",
		"signature": {"scheme": "timestamped", "header": "X-Clearway-Signature"},
		"body": {"id": "{{event.id}}", "type": "{{event.type}}", "created": "{{event.created_unix}}", "livemode": true,
			"data": "{{event.data}}", "api_version": "2025-01-15"},
		"retry": {"schedule": ["1s", "5s", "25s", "125s", "10m"], "on": "5xx"},
		"timeout": "30s"
	}`, "clearway")
	rc := newCapture(t, func(n int, c *captured) int {
		switch {
		case strings.HasSuffix(c.path, "/flaky") && n == 1:
			return http.StatusServiceUnavailable
		case strings.HasSuffix(c.path, "/reject"):
			return http.StatusBadRequest
		}
		return http.StatusOK
	})
	_, secret := endpoint(t, l, rc.URL+"/flaky", "clearway", []string{"capital_call.created"}, "")
	rejectID, _ := endpoint(t, l, rc.URL+"/reject", "clearway", []string{"capital_call.updated"}, "")

	data := json.RawMessage(`{"object": {"id": "cc_1", "amount": 12345678901234567890}, "previous_attributes": {}}`)
	ev := l.must(http.StatusAccepted, "POST", "/api/v1/tenants/acme/events", map[string]any{"type": "capital_call.created", "data": data})
	d := deliveryOf(t, l, ev["id"].(string))
	d = waitDelivery(t, l, d["id"].(string), 20*time.Second, statusIs("delivered"))
	got := rc.all()
	if len(got) != 2 {
		t.Fatalf("flaky endpoint got %d requests, want 2 (a 503, then 200 after 1s)", len(got))
	}
	if gap := got[1].at.Sub(got[0].at); gap < time.Second || gap > 3*time.Second {
		t.Errorf("retry came %s after the first attempt, want about 1s", gap)
	}
	for i, g := range got {
		if err := stripeLike(g.header.Get("X-Clearway-Signature"), secret, g.body); err != nil {
			t.Errorf("attempt %d: %v", i+1, err)
		}
	}
	keys, m := decodeOrdered(t, got[0].body)
	if strings.Join(keys, ",") != "id,type,created,livemode,data,api_version" || m["livemode"] != true || m["api_version"] != "2025-01-15" {
		t.Errorf("body %s", got[0].body)
	}
	if !strings.Contains(string(got[0].body), `"amount":12345678901234567890`) || !strings.Contains(string(got[0].body), `"previous_attributes":{}`) {
		t.Errorf("data not as sent: %s", got[0].body)
	}
	if created, ok := m["created"].(float64); !ok || time.Since(time.Unix(int64(created), 0)).Abs() > time.Minute {
		t.Errorf("created = %v, want the event's Unix time as an integer", m["created"])
	}

	// A 4xx is final: no retry.
	ev2 := l.must(http.StatusAccepted, "POST", "/api/v1/tenants/acme/events", map[string]any{"type": "capital_call.updated", "data": data})
	d2 := deliveryOf(t, l, ev2["id"].(string))
	d2 = waitDelivery(t, l, d2["id"].(string), 10*time.Second, statusIs("failed"))
	if n := len(d2["attempts"].([]any)); n != 1 || d2["endpoint_id"] != rejectID {
		t.Errorf("a 400 made %d attempts, want 1 (4xx is final for this contract)", n)
	}

	// A connection failure is retried, after 1s.
	deadURL := "http://127.0.0.1:1/unreachable"
	endpoint(t, l, deadURL, "clearway", []string{"capital_call.deleted"}, "")
	ev3 := l.must(http.StatusAccepted, "POST", "/api/v1/tenants/acme/events", map[string]any{"type": "capital_call.deleted", "data": data})
	d3 := deliveryOf(t, l, ev3["id"].(string))
	d3 = waitDelivery(t, l, d3["id"].(string), 10*time.Second, func(d map[string]any) bool {
		return d["status"] == "retrying" && len(d["attempts"].([]any)) == 1
	})
	nextAttemptWithin(t, d3, time.Second)
}

// Contract D: versioned events with stable delivery ids, its own test and
// failure event types.
func TestContractD_VersionedWithDeliveryIDs(t *testing.T) {
	t.Parallel()
	l := startLive(t, "")
	// The contract keeps the default schedule (first retry after 5s); it is
	// shortened here so the test sees several attempts quickly.
	setupTenant(t, l, `{
		"name": "klarefi",
		"signature": {"scheme": "timestamped", "header": "X-Klarefi-Signature"},
		"body": {"event_id": "{{event.id}}", "delivery_id": "{{delivery.id}}", "event_type": "{{event.type}}",
			"schema_version": "v1", "trace_id": "trc_{{event.trace_id}}", "created_at": "{{event.created_at}}", "data": "{{event.data}}"},
		"test_event_type": "v1.webhook.test",
		"failure_event_type": "v1.webhook.delivery_failed",
		"retry": {"schedule": ["100ms", "100ms"]}
	}`, "klarefi")
	rc := newCapture(t, func(n int, c *captured) int {
		if strings.HasSuffix(c.path, "/down") {
			return http.StatusInternalServerError
		}
		if strings.HasSuffix(c.path, "/flaky") && n == 1 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	flakyID, secret := endpoint(t, l, rc.URL+"/flaky", "klarefi", []string{"v1.case.completed"}, "")
	downID, _ := endpoint(t, l, rc.URL+"/down", "klarefi", []string{"v1.case.closed"}, "")
	_, watchSecret := endpoint(t, l, rc.URL+"/watch", "klarefi", []string{"v1.webhook.delivery_failed"}, "")

	ev := l.must(http.StatusAccepted, "POST", "/api/v1/tenants/acme/events", map[string]any{
		"type": "v1.case.completed", "data": map[string]any{"case_id": "case_1"},
	})
	d := deliveryOf(t, l, ev["id"].(string))
	waitDelivery(t, l, d["id"].(string), 10*time.Second, statusIs("delivered"))
	got := rc.all()
	if len(got) != 2 {
		t.Fatalf("got %d requests, want 2", len(got))
	}
	var ids []string
	for i, g := range got {
		if err := stripeLike(g.header.Get("X-Klarefi-Signature"), secret, g.body); err != nil {
			t.Errorf("attempt %d: %v (key = the whsec_ string as UTF-8)", i+1, err)
		}
		keys, m := decodeOrdered(t, g.body)
		if strings.Join(keys, ",") != "event_id,delivery_id,event_type,schema_version,trace_id,created_at,data" {
			t.Errorf("body keys %v", keys)
		}
		if m["event_id"] != ev["id"] || m["event_type"] != "v1.case.completed" || m["schema_version"] != "v1" ||
			!strings.HasPrefix(m["trace_id"].(string), "trc_") || len(m["trace_id"].(string)) != 36 {
			t.Errorf("body %s", g.body)
		}
		ids = append(ids, m["delivery_id"].(string))
	}
	if ids[0] != ids[1] || ids[0] != d["id"] {
		t.Errorf("delivery_id across attempts %v, want both %v", ids, d["id"])
	}
	if string(got[0].body) != string(got[1].body) {
		t.Errorf("the two attempts' bodies differ")
	}

	// The test event has the contract's type.
	res := l.must(http.StatusOK, "POST", "/api/v1/tenants/acme/endpoints/"+flakyID+"/test", nil)
	if res["status"] != "delivered" || res["response_code"] != float64(200) {
		t.Errorf("test send = %v", res)
	}
	last := rc.all()[len(rc.all())-1]
	if _, m := decodeOrdered(t, last.body); m["event_type"] != "v1.webhook.test" {
		t.Errorf("test event type = %v, want v1.webhook.test", m["event_type"])
	}

	// A delivery that fails for good raises v1.webhook.delivery_failed at
	// the endpoints subscribed to it.
	ev2 := l.must(http.StatusAccepted, "POST", "/api/v1/tenants/acme/events", map[string]any{"type": "v1.case.closed", "data": map[string]any{}})
	d2 := deliveryOf(t, l, ev2["id"].(string))
	waitDelivery(t, l, d2["id"].(string), 10*time.Second, statusIs("failed"))
	deadline := time.Now().Add(10 * time.Second)
	var failure *captured
	for failure == nil && time.Now().Before(deadline) {
		for _, c := range rc.all() {
			if c.path == "/watch" {
				failure = c
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if failure == nil {
		t.Fatal("no v1.webhook.delivery_failed event reached the subscribed endpoint")
	}
	if err := stripeLike(failure.header.Get("X-Klarefi-Signature"), watchSecret, failure.body); err != nil {
		t.Error(err)
	}
	_, m := decodeOrdered(t, failure.body)
	data := m["data"].(map[string]any)
	if m["event_type"] != "v1.webhook.delivery_failed" || data["delivery_id"] != d2["id"] || data["endpoint_id"] != downID ||
		data["event_type"] != "v1.case.closed" || data["attempts"] != float64(3) || data["response_code"] != float64(500) {
		t.Errorf("failure event %s", failure.body)
	}
}
