package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/format"
	"github.com/heraldhq/herald/verify"
)

// receiver is an httptest server that checks each request with the verify
// package, as a receiver would, and keeps what it got.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	bodies [][]byte
	heads  []http.Header
	errs   []error
}

func newReceiver(t *testing.T, v func() *verify.Verifier, status int, answer string) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var err error
		if v != nil {
			err = v().Verify(body, r.Header)
		}
		rc.mu.Lock()
		rc.bodies, rc.heads, rc.errs = append(rc.bodies, body), append(rc.heads, r.Header.Clone()), append(rc.errs, err)
		rc.mu.Unlock()
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		w.Header().Set("X-Receiver", "yes")
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) got(t *testing.T, n int) ([]byte, http.Header, error) {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.bodies) != n {
		t.Fatalf("the receiver got %d requests, want %d", len(rc.bodies), n)
	}
	return rc.bodies[n-1], rc.heads[n-1], rc.errs[n-1]
}

func verifierFor(t *testing.T, sc schemeCase, secret string) func() *verify.Verifier {
	return func() *verify.Verifier {
		v, err := verify.New(toVerifyConfig(sc.f.Signature()), []string{secret})
		if err != nil {
			t.Error(err)
		}
		return v
	}
}

// send-test delivers the format's test event, signed as the server signs,
// to a receiver that checks it with the verify package, and prints the
// request and the answer.
func TestSendTest_DefaultFormat(t *testing.T) {
	t.Parallel()
	sc := schemeCases(t)[0]
	rc := newReceiver(t, verifierFor(t, sc, sc.secret), http.StatusOK, `{"ok":true}`)
	out, _, err := herald(t, nil, "send-test", "--url", rc.URL+"/webhooks", "--secret", sc.secret, "--allow-private-destinations")
	if err != nil {
		t.Fatalf("send-test: %v\n%s", err, out)
	}
	body, h, verr := rc.got(t, 1)
	if verr != nil {
		t.Fatalf("the receiver could not verify the delivery: %v", verr)
	}
	var ev struct {
		ID, Type, Timestamp string
		Data                struct {
			EndpointID string `json:"endpoint_id"`
			Message    string
		}
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		t.Fatalf("body %s: %v", body, err)
	}
	if ev.Type != "webhook.test" || !strings.HasPrefix(ev.ID, "evt_") || ev.ID != h.Get("webhook-id") {
		t.Errorf("event type %q id %q (webhook-id %q), want webhook.test and an evt_ id equal to webhook-id", ev.Type, ev.ID, h.Get("webhook-id"))
	}
	if !strings.HasPrefix(ev.Data.EndpointID, "ep_") || ev.Data.Message == "" {
		t.Errorf("data %+v, want the test event's endpoint_id and message", ev.Data)
	}
	if h.Get("Content-Type") != "application/json" || h.Get("User-Agent") != format.UserAgent {
		t.Errorf("Content-Type %q, User-Agent %q; want application/json and %s", h.Get("Content-Type"), h.Get("User-Agent"), format.UserAgent)
	}
	for _, want := range []string{
		"> POST " + rc.URL + "/webhooks",
		"> Webhook-Signature: " + h.Get("webhook-signature"),
		"\n" + string(body) + "\n",
		"< 200 OK (",
		"< X-Receiver: yes",
		`{"ok":true}`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not contain %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "secret:") {
		t.Errorf("output prints the secret that was given:\n%s", out)
	}
}

// With a format file, a type and data, the body is the format's template
// with the data in canonical compact form, the format's headers are set,
// and the format's scheme signs it.
func TestSendTest_FormatFileTypeData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	formatFile := filepath.Join(dir, "acme.json")
	os.WriteFile(formatFile, []byte(`{
  "name": "acme-v1",
  "signature": {"scheme": "timestamped", "header": "X-Acme-Signature"},
  "body": {"id": "{{event.id}}", "type": "{{event.type}}", "created": "{{event.created_unix}}", "data": "{{event.data}}", "livemode": true},
  "headers": {"User-Agent": "Acme-Webhooks/1.0", "X-Acme-Event": "{{event.type}}"}
}`), 0o600)
	dataFile := filepath.Join(dir, "data.json")
	os.WriteFile(dataFile, []byte("{ \"id\" : \"usr_1\",\n \"amount\": 100000.00, \"name\": \"Zo\\u00eb\" }\n"), 0o600)
	sc := schemeCases(t)[1] // timestamped, X-Acme-Signature
	rc := newReceiver(t, verifierFor(t, sc, sc.secret), http.StatusAccepted, "")

	out, _, err := herald(t, nil, "send-test", "--url", rc.URL, "--secret", sc.secret, "--allow-private-destinations",
		"--format", formatFile, "--type", "user.created", "--data", dataFile)
	if err != nil {
		t.Fatalf("send-test: %v\n%s", err, out)
	}
	body, h, verr := rc.got(t, 1)
	if verr != nil {
		t.Fatalf("the receiver could not verify the delivery: %v", verr)
	}
	re := regexp.MustCompile(`^\{"id":"evt_[0-9A-Z]{26}","type":"user\.created","created":[0-9]+,"data":\{"id":"usr_1","amount":100000\.00,"name":"Zoë"\},"livemode":true\}$`)
	if !re.Match(body) {
		t.Errorf("body %s, want the template filled with the data in compact form", body)
	}
	if h.Get("X-Acme-Event") != "user.created" || h.Get("User-Agent") != "Acme-Webhooks/1.0" {
		t.Errorf("X-Acme-Event %q, User-Agent %q; want the format's headers", h.Get("X-Acme-Event"), h.Get("User-Agent"))
	}
	if !strings.Contains(out, "< 202 Accepted") || !strings.Contains(out, "format:   acme-v1") {
		t.Errorf("output does not show the format and the 202:\n%s", out)
	}
}

// Without --secret or $HERALD_WEBHOOK_SECRET, a secret is generated and
// printed, and it is the one that signed. (Not parallel: it sets the
// environment.)
func TestSendTest_GeneratesSecret(t *testing.T) {
	t.Setenv(SecretEnv, "")
	rc := newReceiver(t, nil, http.StatusOK, "")
	out, _, err := herald(t, nil, "send-test", "--url", rc.URL, "--allow-private-destinations")
	if err != nil {
		t.Fatalf("send-test: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`secret:   (whsec_\S+) \(generated`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("output does not print a generated secret:\n%s", out)
	}
	body, h, _ := rc.got(t, 1)
	v, err := verify.NewStandard([]string{m[1]})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(body, h); err != nil {
		t.Errorf("the printed secret does not verify the delivery: %v", err)
	}

	secret := testSecret(t)
	t.Setenv(SecretEnv, secret)
	out, _, err = herald(t, nil, "send-test", "--url", rc.URL, "--allow-private-destinations")
	if err != nil {
		t.Fatalf("send-test: %v\n%s", err, out)
	}
	body, h, _ = rc.got(t, 2)
	v, _ = verify.NewStandard([]string{secret})
	if err := v.Verify(body, h); err != nil || !strings.Contains(out, "from $"+SecretEnv) {
		t.Errorf("with $%s set: verify %v, want nil, and the output saying where the secret came from:\n%s", SecretEnv, err, out)
	}
}

// An internal address is refused before anything is sent unless
// --allow-private-destinations.
func TestSendTest_RefusesInternalAddresses(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	for _, url := range []string{srv.URL, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)} {
		_, _, err := herald(t, nil, "send-test", "--url", url, "--secret", testSecret(t))
		if err == nil || !strings.Contains(err.Error(), "--allow-private-destinations") {
			t.Errorf("send-test to %s: %v, want a refusal naming --allow-private-destinations", url, err)
		}
	}
	for _, bad := range []string{"ftp://example.com/x", "http://user:pw@example.com/", "not a url"} {
		if _, _, err := herald(t, nil, "send-test", "--url", bad, "--secret", testSecret(t)); err == nil {
			t.Errorf("send-test to %q: no error, want the URL refused", bad)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the internal server got %d requests, want none", n)
	}
}

// A non-2xx answer is exit status 1, and the answer is printed, cut at 4 KiB.
func TestSendTest_Non2xx(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 10000)
	rc := newReceiver(t, nil, http.StatusInternalServerError, long)
	out, _, err := herald(t, nil, "send-test", "--url", rc.URL, "--secret", testSecret(t), "--allow-private-destinations")
	if err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("send-test to a receiver answering 500: %v, want an error naming the 500", err)
	}
	if !strings.Contains(out, "< 500 Internal Server Error") || !strings.Contains(out, strings.Repeat("x", maxShownResponse)+"\n... (cut at 4096 bytes)") ||
		strings.Contains(out, strings.Repeat("x", maxShownResponse+1)) {
		t.Errorf("output does not show the 500 and the body cut at 4096 bytes:\n%.300s...", out)
	}
	var stdout, stderr syncBuffer
	if code := Main(t.Context(), []string{"send-test", "--url", rc.URL, "--secret", testSecret(t), "--allow-private-destinations"}, &stdout, &stderr); code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
}

// A secret the scheme would not accept on an endpoint, data that is not an
// object and a bad type are refused before sending.
func TestSendTest_RefusesBadInput(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil, http.StatusOK, "")
	data := filepath.Join(t.TempDir(), "data.json")
	os.WriteFile(data, []byte(`[1, 2]`), 0o600)
	for _, args := range [][]string{
		{"--secret", "short"},
		{"--secret", testSecret(t), "--data", data},
		{"--secret", testSecret(t), "--type", "not a type"},
		{"--secret", testSecret(t), "--timeout", "1s", "--scheme", "body"},
	} {
		args = append([]string{"send-test", "--url", rc.URL, "--allow-private-destinations"}, args...)
		if _, _, err := herald(t, nil, args...); err == nil {
			t.Errorf("herald %s: no error, want one", strings.Join(args, " "))
		}
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.bodies) != 0 {
		t.Errorf("the receiver got %d requests, want none", len(rc.bodies))
	}
}

// send-test waits no longer than --timeout.
func TestSendTest_Timeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)
	started := time.Now()
	_, _, err := herald(t, nil, "send-test", "--url", srv.URL, "--secret", testSecret(t), "--allow-private-destinations", "--timeout", "300ms")
	if err == nil || !strings.Contains(err.Error(), "no answer within 300ms") {
		t.Errorf("send-test to a receiver that never answers: %v, want no answer within 300ms", err)
	}
	if d := time.Since(started); d > 5*time.Second {
		t.Errorf("send-test took %v, want about 300ms", d)
	}
}

// --format NAME --server renders with the whole format read from the server.
func TestSendTest_FormatFromServer(t *testing.T) {
	t.Parallel()
	sc := schemeCases(t)[1] // timestamped
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/formats/ts" || r.Header.Get("Authorization") != "Bearer hk_test" {
			http.Error(w, `{"detail":"no"}`, http.StatusNotFound)
			return
		}
		w.Write(sc.f.Definition())
	}))
	defer api.Close()
	rc := newReceiver(t, verifierFor(t, sc, sc.secret), http.StatusOK, "")
	out, _, err := herald(t, nil, "send-test", "--url", rc.URL, "--secret", sc.secret, "--allow-private-destinations",
		"--format", "ts", "--server", api.URL, "--key", "hk_test")
	if err != nil {
		t.Fatalf("send-test with the format from the server: %v\n%s", err, out)
	}
	if _, h, verr := rc.got(t, 1); verr != nil || h.Get("X-Acme-Signature") == "" {
		t.Errorf("the receiver got X-Acme-Signature %q and verified it with %v, want the timestamped signature verified", h.Get("X-Acme-Signature"), verr)
	}
}
