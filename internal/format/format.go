package format

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/header"
	"github.com/heraldhq/herald/internal/jsonstyle"
	"github.com/heraldhq/herald/internal/naming"
	"github.com/heraldhq/herald/internal/signature"
)

// Retry "on" values.
const (
	RetryOnNon2xx = "non-2xx"
	RetryOn5xx    = "5xx"
)

// StandardWebhooksName is the built-in default format's name.
const StandardWebhooksName = "standard-webhooks"

// Limits on a definition, so one format cannot hold a worker for hours or
// fill the queue with thousands of attempts.
const (
	maxScheduleLen = 50
	maxDelay       = 7 * 24 * time.Hour
	minTimeout     = time.Second
	maxTimeout     = 2 * time.Minute
)

var (
	defaultSchedule = []string{"5s", "5m", "30m", "2h", "5h", "10h", "10h"}
	defaultBody     = `{"id": "{{event.id}}", "type": "{{event.type}}", "timestamp": "{{event.created_at}}", "data": "{{event.data}}"}`
)

// The operational event types a format raises unless its definition
// names others. They are also the types the operator's endpoints get
// every tenant's notices under, whatever the tenant's formats call them.
const (
	DefaultFailureEventType  = "webhook.delivery_failed"
	DefaultDisabledEventType = "webhook.endpoint_disabled"
)

// Definition is the format object as users write it (docs/formats.md).
type Definition struct {
	Name             string            `json:"name"`
	Signature        signature.Config  `json:"signature"`
	Body             json.RawMessage   `json:"body,omitempty"`
	JSON             string            `json:"json,omitempty"`
	Headers          map[string]string `json:"headers,omitempty"`
	Retry            RetryDefinition   `json:"retry"`
	Timeout          string            `json:"timeout,omitempty"`
	TestEventType    string            `json:"test_event_type,omitempty"`
	FailureEventType string            `json:"failure_event_type,omitempty"`
	// DisabledEventType is raised when an endpoint in this format is
	// disabled (a 410, or a failing streak).
	DisabledEventType string `json:"disabled_event_type,omitempty"`
}

// RetryDefinition is the format object's "retry".
type RetryDefinition struct {
	Schedule []string `json:"schedule"`
	On       string   `json:"on,omitempty"`
}

// Format is a validated, compiled format, ready to render deliveries.
type Format struct {
	// Name is the format's name.
	Name string
	// Builtin is true for formats Herald ships, which cannot be changed.
	Builtin bool

	def      Definition // with every default filled in
	style    jsonstyle.Style
	body     *template
	headers  []headerTemplate
	schedule []time.Duration
	timeout  time.Duration
	warnings []string
}

// Warnings are what the check found risky but allowed: a body that repeats
// the event's data, whose size the producer decides, is that many times an
// event on every attempt (and past twice the ingest limit its deliveries
// fail at once).
func (f *Format) Warnings() []string { return f.warnings }

type headerTemplate struct {
	name string
	tmpl *textTemplate
}

// Parse decodes and validates a format definition. Errors are
// *herald.ValidationError with locations inside the format object
// ("signature.scheme", "retry.schedule[1]", "body.data").
func Parse(data []byte) (*Format, error) {
	var def Definition
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&def); err != nil {
		return nil, decodeError(err)
	}
	if dec.More() {
		return nil, herald.Invalid("", "unexpected data after the format object")
	}
	return Compile(&def)
}

func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		return herald.Invalid(typeErr.Field, "must be a JSON %s", typeErr.Type.Kind())
	case errors.As(err, &syntaxErr):
		return herald.Invalid("", "not valid JSON: %v", syntaxErr)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return herald.Invalid(field, "unknown field")
	}
	return herald.Invalid("", "not a valid format object: %v", err)
}

// Compile validates a definition and fills in its defaults. Each step
// checks one part of the definition and compiles it; the faults of every
// step are reported together, in the order of the format object.
func Compile(in *Definition) (*Format, error) {
	c := &compiler{def: *in}
	c.f.Name = c.def.Name
	c.name()
	c.signature()
	c.body()
	c.style()
	c.headers()
	c.retry()
	c.timeout()
	c.eventTypes()
	if len(c.fields) > 0 {
		return nil, &herald.ValidationError{Fields: c.fields}
	}
	c.f.def = c.def
	return &c.f, nil
}

// compiler is one Compile: the definition as its defaults are filled in,
// the format as it is compiled, and the faults found so far.
type compiler struct {
	def    Definition
	f      Format
	fields []herald.FieldError
}

func (c *compiler) add(loc, msg string, args ...any) {
	c.fields = append(c.fields, herald.FieldError{Location: loc, Message: fmt.Sprintf(msg, args...)})
}

func (c *compiler) addErr(loc string, err error) {
	c.fields = append(c.fields, prefixed(loc, err)...)
}

func (c *compiler) name() {
	if !naming.Format(c.def.Name) {
		c.add("name", "must be %s", naming.NameChars)
	}
}

func (c *compiler) signature() {
	if c.def.Signature.Scheme == "" {
		c.def.Signature.Scheme = signature.StandardWebhooks
	}
	if err := c.def.Signature.Validate(); err != nil {
		c.addErr("signature", err)
	}
}

// body compiles the envelope template, the default one when none is given.
func (c *compiler) body() {
	if len(c.def.Body) == 0 || string(c.def.Body) == "null" {
		c.def.Body = json.RawMessage(defaultBody)
	}
	tmpl, err := compileTemplate(c.def.Body)
	if err != nil {
		c.addErr("body", err)
		return
	}
	c.f.body = tmpl
	if n := strings.Count(string(c.def.Body), "{{event.data"); n > 1 {
		c.f.warnings = append(c.f.warnings, fmt.Sprintf(
			"body: the event's data ({{event.data...}}) appears %d times; each copy is as large as the producer makes it, and a delivery whose body passes twice the ingest limit fails at once", n))
	}
}

func (c *compiler) style() {
	style, err := jsonstyle.ParseStyle(c.def.JSON)
	if err != nil {
		c.add("json", "must be %q or %q", jsonstyle.Compact, jsonstyle.Python)
	}
	c.def.JSON = string(style)
	c.f.style = style
}

// MaxHeaders is the most headers a format may set: each is rendered and
// sent on every attempt.
const MaxHeaders = 50

// headers compiles the header templates in name order, so faults and
// rendering are the same on every run.
func (c *compiler) headers() {
	if len(c.def.Headers) > MaxHeaders {
		c.add("headers", "has %d headers; a format may set at most %d", len(c.def.Headers), MaxHeaders)
		return
	}
	names := make([]string, 0, len(c.def.Headers))
	for name := range c.def.Headers {
		names = append(names, name)
	}
	sort.Strings(names)
	sigHeaders := c.def.Signature.HeaderNames()
	for _, name := range names {
		loc := "headers." + name
		switch {
		case !header.ValidName(name):
			c.add(loc, "is not a valid HTTP header name")
			continue
		case header.Reserved(name, sigHeaders):
			c.add(loc, "is set by Herald and cannot be templated")
			continue
		case !header.ValidValue(c.def.Headers[name]):
			// A CR or LF would end the header and start one of the
			// template's choosing; Go's client refuses the rest. The
			// placeholders are printable, so the whole template is checked.
			c.add(loc, "must not contain control characters (CR, LF, NUL, ...); only tab is allowed")
			continue
		}
		t, err := compileText(c.def.Headers[name], true)
		if err != nil {
			c.add(loc, "%v", err)
			continue
		}
		c.f.headers = append(c.f.headers, headerTemplate{name: http.CanonicalHeaderKey(name), tmpl: t})
	}
}

func (c *compiler) retry() {
	r := &c.def.Retry
	if r.Schedule == nil {
		r.Schedule = defaultSchedule
	}
	if len(r.Schedule) > maxScheduleLen {
		c.add("retry.schedule", "has %d delays, at most %d are allowed", len(r.Schedule), maxScheduleLen)
	}
	for i, s := range r.Schedule {
		d, err := time.ParseDuration(s)
		switch {
		case err != nil:
			c.add(fmt.Sprintf("retry.schedule[%d]", i), "%q is not a duration such as 30s, 5m or 2h", s)
		case d <= 0 || d > maxDelay:
			c.add(fmt.Sprintf("retry.schedule[%d]", i), "must be more than 0 and at most 168h")
		default:
			c.f.schedule = append(c.f.schedule, d)
		}
	}
	switch r.On {
	case "":
		r.On = RetryOnNon2xx
	case RetryOnNon2xx, RetryOn5xx:
	default:
		c.add("retry.on", "must be %q or %q", RetryOnNon2xx, RetryOn5xx)
	}
}

func (c *compiler) timeout() {
	if c.def.Timeout == "" {
		c.def.Timeout = "30s"
	}
	d, err := time.ParseDuration(c.def.Timeout)
	switch {
	case err != nil:
		c.add("timeout", "%q is not a duration such as 30s", c.def.Timeout)
	case d < minTimeout || d > maxTimeout:
		c.add("timeout", "must be between 1s and 2m")
	default:
		c.f.timeout = d
	}
}

// eventTypes fills in and checks the operational event types.
func (c *compiler) eventTypes() {
	if c.def.TestEventType == "" {
		c.def.TestEventType = "webhook.test"
	}
	if c.def.FailureEventType == "" {
		c.def.FailureEventType = DefaultFailureEventType
	}
	if !naming.EventType(c.def.TestEventType) {
		c.add("test_event_type", "must be an event type name such as webhook.test")
	}
	if !naming.EventType(c.def.FailureEventType) {
		c.add("failure_event_type", "must be an event type name such as webhook.delivery_failed")
	}
	if c.def.DisabledEventType == "" {
		c.def.DisabledEventType = DefaultDisabledEventType
	}
	if !naming.EventType(c.def.DisabledEventType) {
		c.add("disabled_event_type", "must be an event type name such as webhook.endpoint_disabled")
	}
}

func prefixed(p string, err error) []herald.FieldError {
	var ve *herald.ValidationError
	if errors.As(err, &ve) {
		return ve.Prefix(p).Fields
	}
	return []herald.FieldError{{Location: p, Message: err.Error()}}
}

// Definition returns the format object with every default filled in, as
// GET /api/v1/formats/{name} shows it.
func (f *Format) Definition() json.RawMessage {
	b, err := json.Marshal(f.def)
	if err != nil {
		panic(fmt.Sprintf("format: marshal definition: %v", err)) // every field is a plain value
	}
	return b
}

// Signature is the format's signature configuration.
func (f *Format) Signature() *signature.Config { return &f.def.Signature }

// Scheme is the signature scheme's name.
func (f *Format) Scheme() string { return f.def.Signature.Scheme }

// SupportsRotationGrace reports whether the scheme can carry the old and the
// new secret's signatures at once during a rotation's grace period.
func (f *Format) SupportsRotationGrace() bool { return f.def.Signature.SupportsMultipleSecrets() }

// Style is the JSON style bodies are written in.
func (f *Format) Style() jsonstyle.Style { return f.style }

// Schedule is the list of delays before each retry.
func (f *Format) Schedule() []time.Duration { return f.schedule }

// RetryOn is RetryOnNon2xx or RetryOn5xx.
func (f *Format) RetryOn() string { return f.def.Retry.On }

// Timeout bounds one attempt, connect to last byte.
func (f *Format) Timeout() time.Duration { return f.timeout }

// TestEventType is the type of the event a test send delivers.
func (f *Format) TestEventType() string { return f.def.TestEventType }

// FailureEventType is the type of the event raised when a delivery in this
// format fails for good.
func (f *Format) FailureEventType() string { return f.def.FailureEventType }

// DisabledEventType is the type of the event raised when an endpoint in
// this format is disabled.
func (f *Format) DisabledEventType() string { return f.def.DisabledEventType }

// Builtin returns a format Herald ships by name.
func Builtin(name string) (*Format, bool) {
	if name == StandardWebhooksName {
		return standardWebhooks, true
	}
	return nil, false
}

// Builtins lists the formats Herald ships.
func Builtins() []*Format { return []*Format{standardWebhooks} }

var standardWebhooks = func() *Format {
	f, err := Compile(&Definition{Name: StandardWebhooksName})
	if err != nil {
		panic(fmt.Sprintf("format: built-in standard-webhooks: %v", err))
	}
	f.Builtin = true
	return f
}()
