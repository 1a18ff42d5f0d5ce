package format_test

import (
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/format"
	"github.com/heraldhq/herald/internal/signature"
)

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func TestRender_HeadersInOrderOfPrecedence(t *testing.T) {
	t.Parallel()
	f := mustParse(t, `{"name":"acme","signature":{"scheme":"timestamped","header":"X-Acme-Signature"},
		"headers":{"X-Acme-Event":"{{event.type}}","X-Attempt":"{{attempt}}"}}`)
	in := input(t, specEvent())
	in.Timestamp, in.Attempt = time.Unix(1767323045, 0), 2

	out, err := f.Render(in, &format.RenderParams{
		Headers: map[string]string{"user-agent": "Acme/2", "x-acme-event": "from the endpoint", "X-Tenant": "t1"},
		Secrets: []string{testSecret},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := string(f.RenderBody(in)); string(out.Body) != want {
		t.Errorf("body %s, want the rendered body %s", out.Body, want)
	}
	for name, want := range map[string]string{
		"Content-Type": "application/json",
		"User-Agent":   "Acme/2",       // the endpoint's over the default
		"X-Tenant":     "t1",           // the endpoint's own
		"X-Acme-Event": "user.created", // the format's over the endpoint's
		"X-Attempt":    "2",
	} {
		if got := out.Header.Values(name); len(got) != 1 || got[0] != want {
			t.Errorf("%s: %q, want exactly %q", name, got, want)
		}
	}
	sig, err := signature.Sign(f.Signature(), []string{testSecret}, "evt_01", in.Timestamp, out.Body)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := out.Header.Get("X-Acme-Signature"), sig.Get("X-Acme-Signature"); got != want || !strings.HasPrefix(got, "t=1767323045,v1=") {
		t.Errorf("signature %q, want %q: the event id and the attempt's timestamp signed", got, want)
	}
}

func TestRender_DefaultUserAgentAndAGivenBody(t *testing.T) {
	t.Parallel()
	f, _ := format.Builtin(format.StandardWebhooksName)
	in := input(t, specEvent())
	in.Timestamp, in.Attempt = time.Unix(1767323045, 0), 3
	first := []byte(`{"sent":"on the first attempt"}`)

	out, err := f.Render(in, &format.RenderParams{Body: first, Secrets: []string{testSecret}})
	if err != nil {
		t.Fatal(err)
	}
	if string(out.Body) != string(first) {
		t.Errorf("body %s, want the first attempt's %s unchanged", out.Body, first)
	}
	if got := out.Header.Get("User-Agent"); got != "Herald-Webhooks/1.0" {
		t.Errorf("User-Agent %q, want Herald-Webhooks/1.0", got)
	}
	if out.Header.Get("Webhook-Id") != "evt_01" || out.Header.Get("Webhook-Timestamp") != "1767323045" {
		t.Errorf("webhook-id %q, webhook-timestamp %q; want evt_01 and 1767323045",
			out.Header.Get("Webhook-Id"), out.Header.Get("Webhook-Timestamp"))
	}
	sig, _ := signature.Sign(f.Signature(), []string{testSecret}, "evt_01", in.Timestamp, first)
	if out.Header.Get("Webhook-Signature") != sig.Get("Webhook-Signature") {
		t.Error("the signature is not over the given body")
	}
}

func TestRender_ASecretThatCannotSignIsAnError(t *testing.T) {
	t.Parallel()
	f, _ := format.Builtin(format.StandardWebhooksName)
	in := input(t, specEvent())
	in.Timestamp = time.Unix(1767323045, 0)
	_, err := f.Render(in, &format.RenderParams{Secrets: []string{"not-a-whsec-secret"}})
	// The engine records this text as the attempt's error.
	if err == nil || !strings.HasPrefix(err.Error(), "sign: ") {
		t.Fatalf("Render with a plain secret: %v, want an error starting sign:", err)
	}
}

// Event data fed into a header placeholder may hold what no header can
// carry (CR, LF, NUL). Render then fails, naming the header, rather than
// hand the client a request it will refuse on every attempt.
func TestRender_AHeaderValueFromDataThatCannotBeSentIsAnError(t *testing.T) {
	t.Parallel()
	f := mustParse(t, `{"name":"acme","headers":{"X-Acme-User":"user {{event.data.name}}","X-Acme-Event":"{{event.type}}"}}`)
	for _, name := range []string{`a\r\nInjected: yes`, `a\nb`, `nul\u0000`, `del\u007f`} {
		ev := specEvent()
		ev.Data = []byte(`{"name":"` + name + `"}`)
		in := input(t, ev)
		in.Timestamp = time.Unix(1767323045, 0)
		out, err := f.Render(in, &format.RenderParams{Secrets: []string{testSecret}})
		if err == nil {
			t.Fatalf("data name %s: Render = headers %q, want an error", name, out.Header)
		}
		if msg := err.Error(); !strings.Contains(msg, "X-Acme-User") || !strings.Contains(msg, "control character") {
			t.Errorf("data name %s: Render error %q, want it to name header X-Acme-User and say why", name, msg)
		}
	}
	// Tabs and any printable text, in any script, are sent as they are.
	ev := specEvent()
	ev.Data = []byte(`{"name":"Zoë\tvan Dijk"}`) // the JSON escape of a tab
	in := input(t, ev)
	out, err := f.Render(in, &format.RenderParams{Secrets: []string{testSecret}})
	if err != nil || out.Header.Get("X-Acme-User") != "user Zoë\tvan Dijk" {
		t.Fatalf("Render = %q, %v; want X-Acme-User sent as rendered", out.Header.Get("X-Acme-User"), err)
	}
}
