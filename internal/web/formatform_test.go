package web_test

import (
	"context"
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/store"
)

const acmeFormat = `{"name": "acme-v1", "signature": {"scheme": "timestamped", "header": "X-Acme-Signature"},
	"body": {"id": "{{event.id}}", "data": "{{event.data}}"}, "headers": {"X-Acme-Event": "{{event.type}}"},
	"retry": {"schedule": ["1s", "5s"], "on": "5xx"}, "timeout": "10s"}`

// formatEditForm is the edit form of acme-v1 as the page fills it in,
// changed by mods.
func formatEditForm(tok string, mods map[string][]string) url.Values {
	v := url.Values{
		"csrf": {tok}, "scheme": {"timestamped"}, "header": {"X-Acme-Signature"}, "timestamp_header": {""},
		"prefix": {""}, "encoding": {""}, "body": {`{"id": "{{event.id}}", "data": "{{event.data}}"}`}, "json": {"compact"},
		"header_name": {"X-Acme-Event", "", ""}, "header_value": {"{{event.type}}", "", ""},
		"schedule": {"1s, 5s"}, "retry_on": {"5xx"}, "timeout": {"10s"},
		"test_event_type": {"webhook.test"}, "failure_event_type": {"webhook.delivery_failed"}, "disabled_event_type": {"webhook.endpoint_disabled"},
	}
	for k, x := range mods {
		v[k] = x
	}
	return v
}

// inputAttrs are the attributes of the element with this id.
func inputAttrs(t *testing.T, body, id string) string {
	t.Helper()
	m := regexp.MustCompile(`<(?:input|select|textarea|fieldset)[^>]*\bid="` + regexp.QuoteMeta(id) + `"[^>]*>`).FindString(body)
	if m == "" {
		t.Fatalf("no input %s on the page", id)
	}
	return m
}

// errorText is the text of the element with this id, "" when there is none.
func errorText(body, id string) string {
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `">([^<]*)<`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

// A stored format is edited in a form, one input per member; what the
// format rules refuse is shown beside its input, tied to it by
// aria-describedby, with what was typed kept; fixed, it is saved.
func TestFormatEdit_ShowsEachFaultBesideItsInput(t *testing.T) {
	t.Parallel()
	d := newDash(t)
	tok := d.signedIn()
	if _, err := d.st.FormatPut(context.Background(), &store.Format{Name: "acme-v1", Definition: json.RawMessage(acmeFormat)}); err != nil {
		t.Fatal(err)
	}

	page := d.do(d.client, "GET", "/formats/acme-v1/edit", nil)
	if page.code != 200 {
		t.Fatalf("GET the edit form: %d\n%s", page.code, page.body)
	}
	for _, want := range []string{`<option value="timestamped" selected>`, `value="X-Acme-Signature"`, `id="fmt-header-0-name" name="header_name" value="X-Acme-Event"`,
		`value="1s, 5s"`, `<option value="5xx" selected>`, `value="10s"`, `&#34;data&#34;: &#34;{{event.data}}&#34;`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the edit form lacks %q", want)
		}
	}
	if a := d.do(d.client, "GET", "/formats/standard-webhooks/edit", nil); a.code != 409 || !strings.Contains(a.body, "built in") {
		t.Errorf("editing a built-in format: %d, want 409 saying it is built in", a.code)
	}

	// Four faults: a delay that is not one, a header Herald sets itself, a
	// header value without a name, a body that is not JSON; and the
	// timestamped scheme without its header.
	bad := d.do(d.client, "POST", "/formats/acme-v1", formatEditForm(tok, map[string][]string{
		"schedule": {"1s, soon"}, "header": {""}, "body": {`{"id": `},
		"header_name": {"X-Acme-Event", "Content-Type", ""}, "header_value": {"{{event.type}}", "x", "orphan"},
	}))
	if bad.code != 422 {
		t.Fatalf("an invalid format: %d, want 422\n%s", bad.code, bad.body)
	}
	// The body is checked by the form first; fixed, the rest is the format
	// rules'.
	if msg := errorText(bad.body, "fmt-body-err"); !strings.Contains(msg, "is not JSON") {
		t.Errorf("the body's fault reads %q", msg)
	}
	if msg := errorText(bad.body, "fmt-header-2-err"); !strings.Contains(msg, "no name") {
		t.Errorf("the nameless header's fault reads %q", msg)
	}
	bad = d.do(d.client, "POST", "/formats/acme-v1", formatEditForm(tok, map[string][]string{
		"schedule": {"1s, soon"}, "header": {""},
		"header_name": {"X-Acme-Event", "Content-Type", ""}, "header_value": {"{{event.type}}", "x", ""},
	}))
	if bad.code != 422 {
		t.Fatalf("an invalid format: %d, want 422\n%s", bad.code, bad.body)
	}
	for id, want := range map[string]string{
		"fmt-schedule":   "delay 2:",
		"fmt-sig-header": "is required for timestamped",
		"fmt-header-1":   "is set by Herald",
	} {
		msg := errorText(bad.body, id+"-err")
		if !strings.Contains(msg, want) {
			t.Errorf("beside %s: %q, want %q", id, msg, want)
		}
		in := id
		if id == "fmt-header-1" {
			in = id + "-name"
		}
		attrs := inputAttrs(t, bad.body, in)
		if !strings.Contains(attrs, `aria-invalid="true"`) || !regexp.MustCompile(`aria-describedby="[^"]*\b`+id+`-err\b`).MatchString(attrs) {
			t.Errorf("%s is not marked invalid and described by its fault: %s", in, attrs)
		}
	}
	if attrs := inputAttrs(t, bad.body, "fmt-timeout"); strings.Contains(attrs, "aria-invalid") {
		t.Errorf("a field without fault is marked invalid: %s", attrs)
	}
	if !strings.Contains(bad.body, `value="1s, soon"`) || !strings.Contains(bad.body, `value="Content-Type"`) {
		t.Error("the refused form does not keep what was typed")
	}
	if !strings.Contains(bad.body, `role="alert"`) {
		t.Error("the refused form does not say so above it")
	}
	if f, err := d.st.FormatGet(context.Background(), "acme-v1"); err != nil || !strings.Contains(string(f.Definition), `"1s"`) || strings.Contains(string(f.Definition), "soon") {
		t.Fatalf("the refused format was stored: %s, %v", f.Definition, err)
	}

	// Fixed: saved, and the format's page shows it.
	ok := d.do(d.client, "POST", "/formats/acme-v1", formatEditForm(tok, map[string][]string{
		"schedule": {"1s, 30s, 5m"}, "header_name": {"X-Acme-Event", "X-Acme-Version", ""}, "header_value": {"{{event.type}}", "2", ""},
	}))
	if ok.code != 303 || ok.h.Get("Location") != "/formats/acme-v1" {
		t.Fatalf("the fixed format: %d to %q, want 303 to its page\n%s", ok.code, ok.h.Get("Location"), ok.body)
	}
	shown := d.do(d.client, "GET", "/formats/acme-v1", nil)
	for _, want := range []string{"Format acme-v1 saved", `&#34;30s&#34;`, `&#34;X-Acme-Version&#34;: &#34;2&#34;`} {
		if !strings.Contains(shown.body, want) {
			t.Errorf("after saving, the format's page lacks %q", want)
		}
	}
}
