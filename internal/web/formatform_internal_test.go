package web

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/format"
	"github.com/heraldhq/herald/internal/signature"
)

// A format read into the form and sent back unchanged is the same format:
// every member of the format object has its input.
func TestFormatForm_RoundTripsEveryMember(t *testing.T) {
	t.Parallel()
	for _, def := range []string{
		`{"name": "f"}`,
		`{"name": "f", "signature": {"scheme": "body", "header": "X-Sig", "encoding": "base64"}, "json": "python",
			"body": {"z": "{{event.id}}", "a": {"data": "{{event.data}}"}}, "retry": {"schedule": [], "on": "5xx"}}`,
		`{"name": "f", "signature": {"scheme": "body", "header": "X-Sig", "prefix": ""}}`,
		`{"name": "f", "signature": {"scheme": "body-then-timestamp", "header": "X-Sig", "timestamp_header": "X-Ts"},
			"headers": {"X-B": "{{attempt}}", "X-A": "v {{timestamp}}"}, "timeout": "2m",
			"test_event_type": "t.test", "failure_event_type": "t.failed", "disabled_event_type": "t.disabled"}`,
	} {
		f, err := format.Parse([]byte(def))
		if err != nil {
			t.Fatalf("%s: %v", def, err)
		}
		form, err := formatFormOf(f.Definition())
		if err != nil {
			t.Fatal(err)
		}
		// As the browser sends it: every input of the form.
		v := url.Values{
			"scheme": {form.Scheme}, "header": {form.Header}, "timestamp_header": {form.TimestampHeader}, "prefix": {form.Prefix},
			"encoding": {form.Encoding}, "body": {form.Body}, "json": {form.JSON}, "schedule": {form.Schedule},
			"retry_on": {form.RetryOn}, "timeout": {form.Timeout}, "test_event_type": {form.TestEventType},
			"failure_event_type": {form.FailureEventType}, "disabled_event_type": {form.DisabledType},
		}
		for _, h := range form.Headers {
			v.Add("header_name", h.Name)
			v.Add("header_value", h.Value)
		}
		r := httptest.NewRequest("POST", "/formats/f", strings.NewReader(v.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if err := r.ParseForm(); err != nil {
			t.Fatal(err)
		}
		back := readFormatForm(r)
		raw, err := back.definition("f")
		if err != nil {
			t.Fatalf("%s: the unchanged form: %v", def, err)
		}
		again, err := format.Parse(raw)
		if err != nil {
			t.Fatalf("%s: the unchanged form's definition %s: %v", def, raw, err)
		}
		if got, want := normal(t, again.Definition()), normal(t, f.Definition()); got != want {
			t.Errorf("round trip of %s:\n got %s\nwant %s", def, got, want)
		}
	}
}

// normal is a definition with the body scheme's absent prefix written as
// the default it means, which is how the form shows it.
func normal(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var d format.Definition
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	if d.Signature.SchemeName() == signature.Body && d.Signature.Prefix == nil {
		p := signature.DefaultPrefix
		d.Signature.Prefix = &p
	}
	b, _ := json.Marshal(d)
	return string(b)
}
