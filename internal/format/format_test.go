package format_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/format"
	"github.com/heraldhq/herald/internal/jsonstyle"
)

// specEvent is the event behind the test vectors of docs/formats.md.
func specEvent() *format.Event {
	return &format.Event{
		TenantID: "acme", ID: "evt_01", Type: "user.created",
		Data:      []byte(`{"id":"usr_789","name":"Zoë"}`),
		TraceID:   "4bf92f3577b34da6a3ce929d0e0e4736",
		CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

func input(t *testing.T, ev *format.Event) *format.Input {
	t.Helper()
	in, err := format.NewInput(ev, "dlv_01", "ep_01")
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func mustParse(t *testing.T, def string) *format.Format {
	t.Helper()
	f, err := format.Parse([]byte(def))
	if err != nil {
		t.Fatalf("parse %s: %v", def, err)
	}
	return f
}

func TestDefaultBody_MatchesTheSpecVectors(t *testing.T) {
	t.Parallel()
	f, _ := format.Builtin("standard-webhooks")
	got := string(f.RenderBody(input(t, specEvent())))
	want := `{"id":"evt_01","type":"user.created","timestamp":"2026-01-02T03:04:05.000000Z","data":{"id":"usr_789","name":"Zoë"}}`
	if got != want {
		t.Fatalf("body\n got %s\nwant %s", got, want)
	}
	if len(got) != 117 {
		t.Errorf("body is %d bytes, docs/formats.md says 117", len(got))
	}

	py := mustParse(t, `{"name":"py","json":"python"}`)
	got = string(py.RenderBody(input(t, specEvent())))
	want = `{"id": "evt_01", "type": "user.created", "timestamp": "2026-01-02T03:04:05.000000Z", "data": {"id": "usr_789", "name": "Zo\u00eb"}}`
	if got != want {
		t.Fatalf("python body\n got %s\nwant %s", got, want)
	}
}

func TestTemplate_Placeholders(t *testing.T) {
	t.Parallel()
	ev := specEvent()
	ev.Data = []byte(`{"object":{"id":"er_1","n":12345678901234567890,"tags":["a","b"]},"flag":true,"none":null}`)
	tests := []struct {
		name, body, want string
	}{
		{"lone placeholder keeps its type", `{"created":"{{event.created_unix}}","d":"{{event.data.object.n}}"}`,
			`{"created":1767323045,"d":12345678901234567890}`},
		{"inside a longer string it is text", `{"id":"evt-{{event.id}}","n":"n={{event.data.object.n}}","b":"{{event.data.flag}}!"}`,
			`{"id":"evt-evt_01","n":"n=12345678901234567890","b":"true!"}`},
		{"missing path is null alone and empty inside text", `{"a":"{{event.data.nope}}","b":"x{{event.data.nope.deeper}}y"}`,
			`{"a":null,"b":"xy"}`},
		{"objects and arrays", `{"o":"{{event.data.object}}","t":"{{event.data.object.tags}}","i":"{{event.data.object.tags.1}}","s":"{{event.data.object.tags}}."}`,
			`{"o":{"id":"er_1","n":12345678901234567890,"tags":["a","b"]},"t":["a","b"],"i":"b","s":"[\"a\",\"b\"]."}`},
		{"ids and trace", `{"d":"{{delivery.id}}","e":"{{endpoint.id}}","t":"{{tenant.id}}","tr":"trc_{{event.trace_id}}","ty":"{{event.type}}","at":"{{event.created_at}}"}`,
			`{"d":"dlv_01","e":"ep_01","t":"acme","tr":"trc_4bf92f3577b34da6a3ce929d0e0e4736","ty":"user.created","at":"2026-01-02T03:04:05.000000Z"}`},
		{"constants and nesting are copied", `{"livemode":true,"v":1.50,"n":null,"arr":[1,"{{event.type}}",{"k":"{{event.data.none}}"}]}`,
			`{"livemode":true,"v":1.50,"n":null,"arr":[1,"user.created",{"k":null}]}`},
		{"spaces inside braces", `{"id":"{{ event.id }}"}`, `{"id":"evt_01"}`},
		{"an unclosed brace pair is literal", `{"x":"{{not closed"}`, `{"x":"{{not closed"}`},
		{"a template given as JSON text", `"{\"d\": \"{{event.data.flag}}\"}"`, `{"d":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := mustParse(t, `{"name":"t","body":`+tt.body+`}`)
			if got := string(f.RenderBody(input(t, ev))); got != tt.want {
				t.Errorf("\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestHeaders_TimestampAndAttempt(t *testing.T) {
	t.Parallel()
	f := mustParse(t, `{"name":"h","headers":{"User-Agent":"Acme/1.0","X-Event":"{{event.type}}","X-Try":"{{attempt}}","x-ts":"{{timestamp}}","X-Obj":"{{event.data.id}}"}}`)
	in := input(t, specEvent())
	in.Timestamp, in.Attempt = time.Unix(1767323045, 0), 3
	h, err := f.RenderHeaders(in)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"User-Agent": "Acme/1.0", "X-Event": "user.created", "X-Try": "3", "X-Ts": "1767323045", "X-Obj": "usr_789"}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
}

// A format may pass each attempt's W3C traceparent on to receivers, in a
// header only; with none (no span), the header is left out.
func TestHeaders_AttemptTraceparent(t *testing.T) {
	t.Parallel()
	f := mustParse(t, `{"name":"h","headers":{"traceparent":"{{attempt.traceparent}}"}}`)
	in := input(t, specEvent())
	in.Traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	h, err := f.RenderHeaders(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Get("traceparent"); got != in.Traceparent {
		t.Errorf("traceparent = %q, want %q", got, in.Traceparent)
	}
	if _, err := format.Parse([]byte(`{"name":"x","body":{"t":"{{attempt.traceparent}}"}}`)); err == nil || !strings.Contains(err.Error(), "only in headers") {
		t.Errorf("traceparent in the body: %v, want refused, only in headers", err)
	}
}

func TestParse_AtMostMaxHeaders(t *testing.T) {
	t.Parallel()
	hs := map[string]string{}
	for i := range format.MaxHeaders + 1 {
		hs[fmt.Sprintf("X-H%d", i)] = "v"
	}
	def, _ := json.Marshal(map[string]any{"name": "many", "headers": hs})
	_, err := format.Parse(def)
	if err == nil || !strings.Contains(err.Error(), "at most") {
		t.Fatalf("a format of %d headers: %v, want refused at headers", len(hs), err)
	}
	delete(hs, "X-H0")
	def, _ = json.Marshal(map[string]any{"name": "many", "headers": hs})
	if _, err := format.Parse(def); err != nil {
		t.Fatalf("a format of %d headers: %v, want accepted", len(hs), err)
	}
}

func TestParse_InvalidDefinitionsNameTheField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		def, loc, msg string
	}{
		{`{"name":"x","signature":{"scheme":"rot13"}}`, "signature.scheme", ""},
		{`{"name":"x","signature":{"scheme":"timestamped"}}`, "signature.header", ""},
		{`{"name":"x","signature":{"scheme":"body-then-timestamp","header":"X-Sig"}}`, "signature.timestamp_header", ""},
		{`{"name":"x","retry":{"schedule":["5s","soon"]}}`, "retry.schedule[1]", "duration"},
		{`{"name":"x","retry":{"schedule":["-5s"]}}`, "retry.schedule[0]", ""},
		{`{"name":"x","retry":{"on":"4xx"}}`, "retry.on", ""},
		{`{"name":"x","timeout":"forever"}`, "timeout", ""},
		{`{"name":"x","timeout":"10m"}`, "timeout", ""},
		{`{"name":"x","body":{"id":"{{event.idd}}"}}`, "body.id", "unknown placeholder"},
		{`{"name":"x","body":{"a":{"b":["{{nope}}"]}}}`, "body.a.b[0]", "unknown placeholder"},
		{`{"name":"x","body":{"t":"{{timestamp}}"}}`, "body.t", "only in headers"},
		{`{"name":"x","body":"{\"not\": json"}`, "body", "not a JSON template"},
		{`{"name":"x","body":42}`, "body", "must be a JSON object"},
		{`{"name":"x","headers":{"X-A":"{{event.nope}}"}}`, "headers.X-A", "unknown placeholder"},
		{`{"name":"x","headers":{"Bad Header":"v"}}`, "headers.Bad Header", ""},
		{`{"name":"x","headers":{"Content-Length":"1"}}`, "headers.Content-Length", ""},
		{`{"name":"x","json":"yaml"}`, "json", ""},
		{`{"name":"x","surprise":1}`, "surprise", "unknown field"},
		{`{"name":"x","retry":{"schedule":"5s"}}`, "retry.schedule", ""},
		{`{"name":"bad name!"}`, "name", ""},
		{`{"name":"x","test_event_type":"bad type"}`, "test_event_type", ""},
	}
	for _, tt := range tests {
		t.Run(tt.def, func(t *testing.T) {
			t.Parallel()
			_, err := format.Parse([]byte(tt.def))
			var ve *herald.ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, herald.ErrInvalid) {
				t.Fatalf("err = %v, want a ValidationError", err)
			}
			if tt.loc != "" {
				found := false
				for _, f := range ve.Fields {
					if f.Location == tt.loc && strings.Contains(f.Message, tt.msg) {
						found = true
					}
				}
				if !found {
					t.Errorf("fields = %+v, want one at %q mentioning %q", ve.Fields, tt.loc, tt.msg)
				}
			}
		})
	}
}

func TestParse_FillsDefaults(t *testing.T) {
	t.Parallel()
	f := mustParse(t, `{"name":"plain"}`)
	if f.Scheme() != "standard-webhooks" || f.Style() != jsonstyle.Compact || f.RetryOn() != format.RetryOnNon2xx ||
		f.Timeout() != 30*time.Second || f.TestEventType() != "webhook.test" || f.FailureEventType() != "webhook.delivery_failed" {
		t.Errorf("defaults not filled: %s", f.Definition())
	}
	want := []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}
	if got := f.Schedule(); len(got) != len(want) {
		t.Fatalf("schedule = %v, want %v", got, want)
	}
	for i := range want {
		if f.Schedule()[i] != want[i] {
			t.Errorf("schedule[%d] = %v, want %v", i, f.Schedule()[i], want[i])
		}
	}
	// The normalized definition parses back to the same thing.
	again := mustParse(t, string(f.Definition()))
	if string(again.Definition()) != string(f.Definition()) {
		t.Errorf("definition does not round-trip:\n%s\n%s", f.Definition(), again.Definition())
	}
	empty := mustParse(t, `{"name":"none","retry":{"schedule":[]}}`)
	if len(empty.Schedule()) != 0 {
		t.Errorf("an empty schedule means one attempt only, got %v", empty.Schedule())
	}
	// ... and stays empty once stored and read back.
	if again := mustParse(t, string(empty.Definition())); len(again.Schedule()) != 0 {
		t.Errorf("an empty schedule came back from its definition as %v (%s)", again.Schedule(), empty.Definition())
	}
}

func TestLoadFile_YAMLKeepsKeyOrder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "formats.yaml")
	err := os.WriteFile(path, []byte(`
- name: acme-v1
  signature:
    scheme: timestamped
    header: X-Acme-Signature
  body:
    zeta: "{{event.id}}"
    alpha: "{{event.created_unix}}"
    big: 12345678901234567890
    data: "{{event.data}}"
  retry:
    schedule: [1s, 5s]
    on: 5xx
- name: second
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := format.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 2 || fs[0].Name != "acme-v1" || fs[1].Name != "second" {
		t.Fatalf("loaded %d formats", len(fs))
	}
	got := string(fs[0].RenderBody(input(t, specEvent())))
	want := `{"zeta":"evt_01","alpha":1767323045,"big":12345678901234567890,"data":{"id":"usr_789","name":"Zoë"}}`
	if got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
	if fs[0].RetryOn() != "5xx" || len(fs[0].Schedule()) != 2 {
		t.Errorf("retry not loaded: %s", fs[0].Definition())
	}

	bad := filepath.Join(dir, "bad.json")
	_ = os.WriteFile(bad, []byte(`{"name":"x","signature":{"scheme":"nope"}}`), 0o600)
	if _, err := format.LoadFile(bad); !errors.Is(err, herald.ErrInvalid) {
		t.Errorf("bad file: err = %v, want ErrInvalid", err)
	}
}

func FuzzTemplate(f *testing.F) {
	f.Add(`{"id":"{{event.id}}","d":"{{event.data}}"}`, `{"a":[1,2.5e3,"x"]}`)
	f.Add(`["{{event.data.a.0}}"]`, `{"a":["\u00e9"]}`)
	f.Add(`{"x":"a{{event.data.b}}b{{tenant.id}}"}`, `{"b":{"c":null}}`)
	f.Add(`[{"{{":"}}"}]`, `{}`)
	f.Fuzz(func(t *testing.T, body, data string) {
		dv, err := jsonstyle.Parse([]byte(data))
		if err != nil || dv.Kind != jsonstyle.Object {
			return
		}
		fm, err := format.Compile(&format.Definition{Name: "f", Body: []byte(body)})
		if err != nil {
			return
		}
		ev := specEvent()
		ev.Data = jsonstyle.Marshal(dv, jsonstyle.Compact)
		in := input(t, ev)
		for _, style := range []string{"compact", "python"} {
			fs, err := format.Compile(&format.Definition{Name: "f", Body: []byte(body), JSON: style})
			if err != nil {
				t.Fatalf("compiles in one style and not in %s: %v", style, err)
			}
			out := fs.RenderBody(in)
			if _, err := jsonstyle.Parse(out); err != nil {
				t.Fatalf("%s output %s is not valid JSON: %v", style, out, err)
			}
		}
		if a, b := fm.RenderBody(in), fm.RenderBody(in); string(a) != string(b) {
			t.Fatalf("two renders differ: %s / %s", a, b)
		}
	})
}
