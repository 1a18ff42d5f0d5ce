package format_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/format"
	"github.com/heraldhq/herald/internal/header"
	"github.com/heraldhq/herald/internal/jsonstyle"
)

// A format's headers are refused where an endpoint's are: the transport
// headers, the Standard Webhooks headers whatever the scheme, and the
// scheme's own signature headers, in any case.
func TestParse_HeadersHeraldSetsAreRefused(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ sig, name string }{
		{``, "Upgrade"},
		{``, "te"},
		{``, "Keep-Alive"},
		{``, "Proxy-Connection"},
		{``, "Host"},
		{``, "webhook-signature"},
		{`"signature":{"scheme":"body","header":"X-Sig"},`, "Webhook-Id"},
		{`"signature":{"scheme":"body","header":"X-Sig"},`, "x-sig"},
		{`"signature":{"scheme":"body-then-timestamp","header":"X-Sig","timestamp_header":"X-Ts"},`, "X-TS"},
	} {
		def := `{"name":"x",` + tt.sig + `"headers":{"` + tt.name + `":"v"}}`
		_, err := format.Parse([]byte(def))
		var ve *herald.ValidationError
		if !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Location != "headers."+tt.name ||
			ve.Fields[0].Message != "is set by Herald and cannot be templated" {
			t.Errorf("%s: %v, want headers.%s is set by Herald", def, err, tt.name)
		}
	}
	for _, name := range []string{"User-Agent", "X-Acme-Event", "Authorization"} {
		if _, err := format.Parse([]byte(`{"name":"x","headers":{"` + name + `":"v"}}`)); err != nil {
			t.Errorf("header %s: %v, want it allowed", name, err)
		}
	}
}

// A header value that would end the header and start another (CR, LF) or
// that Go's client refuses to send (any other control character but tab)
// is refused where it is written, naming the header, whether it is
// literal text or inside a placeholder.
func TestParse_HeaderControlCharactersAreRefused(t *testing.T) {
	t.Parallel()
	for _, value := range []string{
		`a\r\nInjected: yes`, `a\nb`, `a\rb`, `\u0000`, `x\u007f`, `\u001f`, `{{event.type}}\r\n`, `{{event.data.a\nb}}`,
	} {
		def := `{"name":"x","headers":{"X-A":"` + value + `"}}`
		_, err := format.Parse([]byte(def))
		var ve *herald.ValidationError
		if !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Location != "headers.X-A" ||
			!strings.Contains(ve.Fields[0].Message, "control character") {
			t.Errorf("%s: %v, want one error at headers.X-A about control characters", def, err)
		}
	}
	for _, value := range []string{`a\tb`, `Zoë`, `t={{timestamp}}, id={{event.id}}`, ``} {
		if _, err := format.Parse([]byte(`{"name":"x","headers":{"X-A":"` + value + `"}}`)); err != nil {
			t.Errorf("header value %s: %v, want it allowed", value, err)
		}
	}
}

// Whatever header template a format may hold and whatever data an event
// brings, Render either refuses the attempt, naming the header, or makes
// headers Go's client sends as they are: a delivery never fails on the wire
// with "invalid header field value".
func FuzzRenderHeader(f *testing.F) {
	f.Add("user {{event.data.name}}", `{"name":"a\r\nInjected: yes"}`)
	f.Add("{{event.data}}", `{"name":"a\nb"}`)
	f.Add("t={{timestamp}} {{event.data.n}}", `{"n":1.5e3}`)
	f.Add("a\r\nInjected: yes", `{}`)
	f.Fuzz(func(t *testing.T, tmpl, data string) {
		dv, err := jsonstyle.Parse([]byte(data))
		if err != nil || dv.Kind != jsonstyle.Object {
			return
		}
		fm, err := format.Compile(&format.Definition{Name: "f", Headers: map[string]string{"X-Fuzz": tmpl}})
		if err != nil {
			if header.ValidValue(tmpl) && !strings.Contains(tmpl, "{{") {
				t.Fatalf("literal header value %q refused: %v", tmpl, err)
			}
			return
		}
		ev := &format.Event{TenantID: "acme", ID: "evt_01", Type: "user.created",
			Data: jsonstyle.Marshal(dv, jsonstyle.Compact), CreatedAt: time.Unix(1767323045, 0)}
		in, err := format.NewInput(ev, "dlv_01", "ep_01")
		if err != nil {
			return
		}
		in.Timestamp, in.Attempt = time.Unix(1767323045, 0), 1
		out, err := fm.Render(in, &format.RenderParams{Secrets: []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}})
		if err != nil {
			if !strings.Contains(err.Error(), "header X-Fuzz") {
				t.Fatalf("Render error %q does not name the header", err)
			}
			return
		}
		req, err := http.NewRequest(http.MethodPost, "http://example.com/hook", bytes.NewReader(out.Body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header = out.Header
		if err := req.Write(io.Discard); err != nil {
			t.Fatalf("template %q with data %s: rendered headers %q cannot be sent: %v", tmpl, data, out.Header, err)
		}
	})
}
