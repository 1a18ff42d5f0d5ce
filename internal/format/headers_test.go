package format_test

import (
	"errors"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/format"
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
