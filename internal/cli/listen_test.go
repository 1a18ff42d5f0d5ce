package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/format"
)

// listening is a herald listen running in process.
type listening struct {
	url  string // http://127.0.0.1:PORT
	out  *syncBuffer
	stop func() error
}

// startListen runs herald listen on a free port of 127.0.0.1 until stop is
// called (or the test ends).
func startListen(t *testing.T, args ...string) *listening {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, errOut := &syncBuffer{}, &syncBuffer{}
	root := NewRoot(out, errOut)
	root.SetArgs(append([]string{"listen", "--port", "0", "--addr", "127.0.0.1"}, args...))
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	l := &listening{out: out}
	var stopped bool
	var stopErr error
	l.stop = func() error {
		if stopped {
			return stopErr
		}
		stopped = true
		cancel()
		select {
		case stopErr = <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("herald listen did not stop within 10s of its context's end")
		}
		return stopErr
	}
	t.Cleanup(func() { _ = l.stop() })
	re := regexp.MustCompile(`receiving webhooks on (http://127\.0\.0\.1:[0-9]+)/`)
	var failed error
	if !waitFor(10*time.Second, func() bool {
		select {
		case failed = <-done:
			return true
		default:
		}
		return re.MatchString(out.String())
	}) || failed != nil {
		t.Fatalf("herald listen did not start: %v; output:\n%s%s", failed, out, errOut)
	}
	l.url = re.FindStringSubmatch(out.String())[1]
	return l
}

// A verified delivery is relayed to --forward-to with its headers and raw
// body intact, the handler's answer is printed and goes back to the sender;
// a tampered one is answered 401 and never relayed.
func TestListen_VerifiesAndForwards(t *testing.T) {
	t.Parallel()
	std, _ := format.Builtin(format.StandardWebhooksName)
	secret := testSecret(t)
	type got struct {
		body []byte
		h    http.Header
		path string
	}
	gotc := make(chan got, 10)
	handler := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		b.ReadFrom(r.Body)
		gotc <- got{b.Bytes(), r.Header.Clone(), r.URL.Path}
		w.Header().Set("X-Handler", "mine")
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(`{"handled":true}`))
	}))
	defer handler.Close()
	l := startListen(t, "--secret", secret, "--forward-to", handler.URL+"/my/handler")

	d := signedDelivery(t, std, []string{secret}, "user.created", testData, time.Now())
	d.Header.Set("X-Custom", "kept")
	status, answer := post(t, l.url+"/webhooks", d)
	if status != http.StatusCreated || answer != `{"handled":true}` {
		t.Errorf("listen answered %d %q, want the handler's 201 {\"handled\":true}", status, answer)
	}
	select {
	case g := <-gotc:
		if !bytes.Equal(g.body, d.Body) {
			t.Errorf("the handler got body %q, want the raw body %q", g.body, d.Body)
		}
		for _, name := range []string{"Webhook-Id", "Webhook-Timestamp", "Webhook-Signature", "Content-Type", "User-Agent", "X-Custom"} {
			if g.h.Get(name) != d.Header.Get(name) {
				t.Errorf("the handler got %s %q, want %q", name, g.h.Get(name), d.Header.Get(name))
			}
		}
		if g.path != "/my/handler" {
			t.Errorf("relayed to path %q, want /my/handler", g.path)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the handler got nothing")
	}
	for _, want := range []string{"POST /webhooks  verified (standard-webhooks)", "event: user.created " + d.EventID,
		"Webhook-Id: " + d.EventID, `"name": "Zoë"`, "→ forwarded to " + handler.URL + "/my/handler: 201 Created in", `{"handled":true}`} {
		if !strings.Contains(l.out.String(), want) {
			t.Errorf("output does not contain %q:\n%s", want, l.out)
		}
	}

	status, answer = postRaw(t, l.url+"/webhooks", d.Header, tamper(t, d.Body))
	if status != http.StatusUnauthorized || !strings.Contains(answer, "bad signature") {
		t.Errorf("listen answered a tampered body %d %q, want 401 bad signature", status, answer)
	}
	select {
	case g := <-gotc:
		t.Errorf("a tampered delivery was relayed: %s", g.body)
	case <-time.After(200 * time.Millisecond):
	}
	if !strings.Contains(l.out.String(), "NOT VERIFIED: bad signature") || !strings.Contains(l.out.String(), "→ 401 Unauthorized") {
		t.Errorf("output does not show the refusal:\n%s", l.out)
	}
	if err := l.stop(); err != nil {
		t.Errorf("listen stopped with %v, want nil", err)
	}
	if !strings.Contains(l.out.String(), "herald listen: stopped") {
		t.Errorf("output does not say it stopped:\n%s", l.out)
	}
}

// Without a forward target, a verified delivery is answered 200, a stale
// one 401 with the reason; the format's scheme comes from --scheme.
func TestListen_AnswersByVerification(t *testing.T) {
	t.Parallel()
	sc := schemeCases(t)[4] // body-then-timestamp
	l := startListen(t, append([]string{"--secret", sc.secret}, sc.flags...)...)
	d := signedDelivery(t, sc.f, []string{sc.secret}, "user.created", testData, time.Now())
	if status, _ := post(t, l.url+"/", d); status != http.StatusOK {
		t.Errorf("listen answered a valid delivery %d, want 200", status)
	}
	stale := signedDelivery(t, sc.f, []string{sc.secret}, "user.created", testData, time.Now().Add(-time.Hour))
	if status, answer := post(t, l.url+"/", stale); status != http.StatusUnauthorized || !strings.Contains(answer, "timestamp too old") {
		t.Errorf("listen answered a delivery an hour old %d %q, want 401 timestamp too old", status, answer)
	}
	wantOut := []string{"verified (body-then-timestamp)", "NOT VERIFIED: timestamp too old", "Clasp-Event-Signature: " + d.Header.Get("Clasp-Event-Signature")}
	for _, want := range wantOut {
		if !strings.Contains(l.out.String(), want) {
			t.Errorf("output does not contain %q:\n%s", want, l.out)
		}
	}
}

// Without a secret every delivery is printed as unverified, with its body
// pretty-printed, and answered 200. (Not parallel: it clears
// $HERALD_WEBHOOK_SECRET.)
func TestListen_NoSecret(t *testing.T) {
	t.Setenv(SecretEnv, "")
	std, _ := format.Builtin(format.StandardWebhooksName)
	l := startListen(t)
	if !strings.Contains(l.out.String(), "NOT verifying") {
		t.Errorf("the banner does not warn that nothing is verified:\n%s", l.out)
	}
	d := signedDelivery(t, std, []string{testSecret(t)}, "user.created", testData, time.Now())
	if status, _ := post(t, l.url+"/anything", d); status != http.StatusOK {
		t.Errorf("listen without a secret answered %d, want 200", status)
	}
	if status, _ := postRaw(t, l.url+"/anything", http.Header{}, []byte("not json\nat all")); status != http.StatusOK {
		t.Errorf("listen without a secret answered a non-JSON body %d, want 200", status)
	}
	for _, want := range []string{"POST /anything  UNVERIFIED", "\n   {\n     \"id\": \"" + d.EventID + "\",", "\n   not json\n   at all\n"} {
		if !strings.Contains(l.out.String(), want) {
			t.Errorf("output does not contain %q:\n%s", want, l.out)
		}
	}
}

// --path restricts the receiving path, only POST is received, and a forward
// target that is down gives 502.
func TestListen_PathMethodAndForwardFailure(t *testing.T) {
	t.Parallel()
	std, _ := format.Builtin(format.StandardWebhooksName)
	secret := testSecret(t)
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	l := startListen(t, "--secret", secret, "--path", "/hooks", "--forward-to", downURL)
	d := signedDelivery(t, std, []string{secret}, "user.created", testData, time.Now())
	if status, _ := post(t, l.url+"/other", d); status != http.StatusNotFound {
		t.Errorf("POST /other with --path /hooks: %d, want 404", status)
	}
	resp, err := http.Get(l.url + "/hooks")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /hooks: %d, want 405", resp.StatusCode)
	}
	if status, _ := post(t, l.url+"/hooks", d); status != http.StatusBadGateway {
		t.Errorf("POST /hooks with the forward target down: %d, want 502", status)
	}
	if !strings.Contains(l.out.String(), "ignored: not /hooks") || !strings.Contains(l.out.String(), "failed") {
		t.Errorf("output does not show the ignored request and the failed forward:\n%s", l.out)
	}
}

// send-test and listen agree: what one sends, the other verifies.
func TestListen_ReceivesSendTest(t *testing.T) {
	t.Parallel()
	sc := schemeCases(t)[2] // body hex
	l := startListen(t, append([]string{"--secret", sc.secret}, sc.flags...)...)
	out, _, err := herald(t, nil, append([]string{"send-test", "--url", l.url + "/webhooks", "--secret", sc.secret,
		"--allow-private-destinations", "--type", "user.created"}, sc.flags...)...)
	if err != nil {
		t.Fatalf("send-test to listen: %v\n%s", err, out)
	}
	if !strings.Contains(out, "< 200 OK") || !strings.Contains(l.out.String(), "verified (body)") {
		t.Errorf("send-test output:\n%s\nlisten output:\n%s\nwant a verified delivery answered 200", out, l.out)
	}
}

// Flags are checked before anything listens.
func TestListen_FlagErrors(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"listen", "--path", "hooks"},
		{"listen", "--forward-to", "ftp://x"},
		{"listen", "--port", "70000"},
		{"listen", "--scheme", "nope", "--signature-header", "X"},
		{"listen", "--secret", "whsec_!!", "--port", "0"},
	} {
		if _, _, err := herald(t, nil, args...); err == nil {
			t.Errorf("herald %s: no error, want one", strings.Join(args, " "))
		}
	}
}
