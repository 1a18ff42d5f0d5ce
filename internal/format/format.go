package format

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/jsonstyle"
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
	nameRE          = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
	eventTypeRE     = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)
)

// Definition is the format object as users write it (wire-formats.md).
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
}

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

// Compile validates a definition and fills in its defaults.
func Compile(in *Definition) (*Format, error) {
	def := *in
	var fields []herald.FieldError
	add := func(loc, msg string, args ...any) {
		fields = append(fields, herald.FieldError{Location: loc, Message: fmt.Sprintf(msg, args...)})
	}

	if !nameRE.MatchString(def.Name) {
		add("name", "must be 1 to 64 of A-Z a-z 0-9 _ . -")
	}
	if def.Signature.Scheme == "" {
		def.Signature.Scheme = signature.StandardWebhooks
	}
	if err := def.Signature.Validate(); err != nil {
		fields = append(fields, prefixed("signature", err)...)
	}

	f := &Format{Name: def.Name}

	// Body template.
	if len(def.Body) == 0 || string(def.Body) == "null" {
		def.Body = json.RawMessage(defaultBody)
	}
	if tmpl, err := compileTemplate(def.Body); err != nil {
		fields = append(fields, prefixed("body", err)...)
	} else {
		f.body = tmpl
	}

	// JSON style.
	style, err := jsonstyle.ParseStyle(def.JSON)
	if err != nil {
		add("json", "must be %q or %q", jsonstyle.Compact, jsonstyle.Python)
	}
	def.JSON = string(style)
	f.style = style

	// Headers.
	names := make([]string, 0, len(def.Headers))
	for name := range def.Headers {
		names = append(names, name)
	}
	sortStrings(names)
	for _, name := range names {
		loc := "headers." + name
		switch {
		case !isToken(name):
			add(loc, "is not a valid HTTP header name")
			continue
		case reservedHeader(name, &def.Signature):
			add(loc, "is set by Herald and cannot be templated")
			continue
		}
		t, err := compileText(def.Headers[name], true)
		if err != nil {
			add(loc, "%v", err)
			continue
		}
		f.headers = append(f.headers, headerTemplate{name: http.CanonicalHeaderKey(name), tmpl: t})
	}

	// Retry.
	if def.Retry.Schedule == nil {
		def.Retry.Schedule = defaultSchedule
	}
	if len(def.Retry.Schedule) > maxScheduleLen {
		add("retry.schedule", "has %d delays, at most %d are allowed", len(def.Retry.Schedule), maxScheduleLen)
	}
	for i, s := range def.Retry.Schedule {
		d, err := time.ParseDuration(s)
		switch {
		case err != nil:
			add(fmt.Sprintf("retry.schedule[%d]", i), "%q is not a duration such as 30s, 5m or 2h", s)
		case d <= 0 || d > maxDelay:
			add(fmt.Sprintf("retry.schedule[%d]", i), "must be more than 0 and at most 168h")
		default:
			f.schedule = append(f.schedule, d)
		}
	}
	switch def.Retry.On {
	case "":
		def.Retry.On = RetryOnNon2xx
	case RetryOnNon2xx, RetryOn5xx:
	default:
		add("retry.on", "must be %q or %q", RetryOnNon2xx, RetryOn5xx)
	}

	// Timeout.
	if def.Timeout == "" {
		def.Timeout = "30s"
	}
	if d, err := time.ParseDuration(def.Timeout); err != nil {
		add("timeout", "%q is not a duration such as 30s", def.Timeout)
	} else if d < minTimeout || d > maxTimeout {
		add("timeout", "must be between 1s and 2m")
	} else {
		f.timeout = d
	}

	// Operational event types.
	if def.TestEventType == "" {
		def.TestEventType = "webhook.test"
	}
	if def.FailureEventType == "" {
		def.FailureEventType = "webhook.delivery_failed"
	}
	if !eventTypeRE.MatchString(def.TestEventType) {
		add("test_event_type", "must be an event type name such as webhook.test")
	}
	if !eventTypeRE.MatchString(def.FailureEventType) {
		add("failure_event_type", "must be an event type name such as webhook.delivery_failed")
	}

	if len(fields) > 0 {
		return nil, &herald.ValidationError{Fields: fields}
	}
	f.def = def
	return f, nil
}

func prefixed(p string, err error) []herald.FieldError {
	var ve *herald.ValidationError
	if errors.As(err, &ve) {
		return ve.Prefix(p).Fields
	}
	return []herald.FieldError{{Location: p, Message: err.Error()}}
}

// reservedHeader reports whether a header is Herald's to set: transport
// headers and the scheme's own signature headers.
func reservedHeader(name string, sig *signature.Config) bool {
	switch http.CanonicalHeaderKey(name) {
	case "Host", "Content-Length", "Transfer-Encoding", "Connection", "Content-Type":
		return true
	}
	switch sig.Scheme {
	case signature.StandardWebhooks:
		switch strings.ToLower(name) {
		case "webhook-id", "webhook-timestamp", "webhook-signature":
			return true
		}
	}
	return strings.EqualFold(name, sig.Header) || (sig.TimestampHeader != "" && strings.EqualFold(name, sig.TimestampHeader))
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
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
