package format

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/header"
	"github.com/heraldhq/herald/internal/jsonstyle"
)

// Event is what a template knows of the event a delivery carries.
type Event struct {
	TenantID string
	ID       string
	Type     string
	// Data is the event's data as stored: a JSON object.
	Data      []byte
	TraceID   string
	CreatedAt time.Time
}

// Input is what a template can refer to for one delivery.
type Input struct {
	Event      *Event
	Data       jsonstyle.Value // Event.Data, parsed
	DeliveryID string
	EndpointID string
	// Timestamp and Attempt exist only in headers: they change per attempt,
	// and the body must not.
	Timestamp time.Time
	Attempt   int
	// Traceparent is the W3C traceparent of the attempt's span, for a
	// format that passes it on to receivers ({{attempt.traceparent}}).
	Traceparent string
}

// NewInput parses the event's data for rendering.
func NewInput(ev *Event, deliveryID, endpointID string) (*Input, error) {
	data, err := jsonstyle.Parse(ev.Data)
	if err != nil {
		return nil, fmt.Errorf("parse data of event %s: %w", ev.ID, err)
	}
	return &Input{Event: ev, Data: data, DeliveryID: deliveryID, EndpointID: endpointID}, nil
}

// RenderBody writes the delivery's body: the envelope template with every
// placeholder filled, in the format's JSON style.
func (f *Format) RenderBody(in *Input) []byte {
	// Most bodies are the event's data in an envelope of ids and a time:
	// room for that at the start spares the growing of a copy of the data
	// several times over on every first attempt. The Python style adds a
	// blank after each separator.
	size := len(in.Event.Data) + 512
	if f.style == jsonstyle.Python {
		size += len(in.Event.Data) / 4
	}
	return jsonstyle.Append(make([]byte, 0, size), f.body.render(in), f.style)
}

// RenderHeaders returns the format's own headers for one attempt (not the
// signature headers, which package signature adds). The templates' own text
// was checked when the format was compiled, but event data filled into a
// placeholder may hold what no header can carry (a CR or LF, which would
// end the header, or another control character): that is an error naming
// the header, since every attempt of the delivery would render it alike.
func (f *Format) RenderHeaders(in *Input) (http.Header, error) {
	h := make(http.Header, len(f.headers))
	if err := f.renderHeaders(h, in); err != nil {
		return nil, err
	}
	return h, nil
}

// renderHeaders sets the format's own headers in h, over any of the same
// names, with RenderHeaders' check and error. Their names were
// canonicalised when the format was compiled.
func (f *Format) renderHeaders(h http.Header, in *Input) error {
	for _, ht := range f.headers {
		v := ht.tmpl.render(in)
		if !header.ValidValue(v) {
			return fmt.Errorf("header %s: the value rendered from the event's data holds a control character (CR, LF, NUL, ...) that no HTTP header can carry; no retry can send it", ht.name)
		}
		h[ht.name] = []string{v}
	}
	return nil
}

// placeholder is one {{...}} reference.
type placeholder struct {
	root string // "event.id", "event.data", "delivery.id", ...
	path string // for event.data.<path>: the dot path under data
	raw  string // as written, for messages
}

var bodyPlaceholders = map[string]bool{
	"event.id": true, "event.type": true, "event.created_at": true, "event.created_unix": true,
	"event.data": true, "event.trace_id": true, "delivery.id": true, "endpoint.id": true, "tenant.id": true,
}

// headerPlaceholders change on every attempt, so only headers may hold
// them: the body is the same bytes on every attempt.
var headerPlaceholders = map[string]bool{"timestamp": true, "attempt": true, "attempt.traceparent": true}

func parsePlaceholder(s string, inHeader bool) (placeholder, error) {
	name := strings.TrimSpace(s)
	if strings.HasPrefix(name, "event.data.") && len(name) > len("event.data.") {
		p := name[len("event.data."):]
		for _, seg := range strings.Split(p, ".") {
			if seg == "" {
				return placeholder{}, fmt.Errorf("placeholder {{%s}} has an empty path segment", name)
			}
		}
		return placeholder{root: "event.data", path: p, raw: name}, nil
	}
	if bodyPlaceholders[name] || inHeader && headerPlaceholders[name] {
		return placeholder{root: name, raw: name}, nil
	}
	if headerPlaceholders[name] {
		return placeholder{}, fmt.Errorf("placeholder {{%s}} changes on every attempt and is allowed only in headers (the body is the same on every attempt)", name)
	}
	return placeholder{}, fmt.Errorf("unknown placeholder {{%s}}", name)
}

// value resolves a placeholder; ok is false for a path that does not exist.
func (p placeholder) value(in *Input) (jsonstyle.Value, bool) {
	ev := in.Event
	switch p.root {
	case "event.id":
		return jsonstyle.StringValue(ev.ID), true
	case "event.type":
		return jsonstyle.StringValue(ev.Type), true
	case "event.created_at":
		return jsonstyle.StringValue(FormatTime(ev.CreatedAt)), true
	case "event.created_unix":
		return jsonstyle.Int(ev.CreatedAt.Unix()), true
	case "event.trace_id":
		return jsonstyle.StringValue(ev.TraceID), true
	case "event.data":
		if p.path == "" {
			return in.Data, true
		}
		return in.Data.Lookup(p.path)
	case "delivery.id":
		return jsonstyle.StringValue(in.DeliveryID), true
	case "endpoint.id":
		return jsonstyle.StringValue(in.EndpointID), true
	case "tenant.id":
		return jsonstyle.StringValue(ev.TenantID), true
	case "timestamp":
		return jsonstyle.Int(in.Timestamp.Unix()), true
	case "attempt":
		return jsonstyle.Int(int64(in.Attempt)), true
	case "attempt.traceparent":
		return jsonstyle.StringValue(in.Traceparent), in.Traceparent != ""
	}
	return jsonstyle.Value{}, false
}

// FormatTime writes t as the wire formats do: RFC 3339, UTC, microseconds.
func FormatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000Z")
}

// textTemplate is a string with placeholders in it, rendered as text.
type textTemplate struct {
	lits []string      // len(phs)+1 literal pieces around the placeholders
	phs  []placeholder // the placeholders between them
}

// compileText splits s at every {{...}}. A "{{" with no closing "}}" is
// literal text.
func compileText(s string, inHeader bool) (*textTemplate, error) {
	t := &textTemplate{}
	rest := s
	var lit strings.Builder
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			break
		}
		j := strings.Index(rest[i+2:], "}}")
		if j < 0 {
			break
		}
		ph, err := parsePlaceholder(rest[i+2:i+2+j], inHeader)
		if err != nil {
			return nil, err
		}
		lit.WriteString(rest[:i])
		t.lits = append(t.lits, lit.String())
		lit.Reset()
		t.phs = append(t.phs, ph)
		rest = rest[i+2+j+2:]
	}
	lit.WriteString(rest)
	t.lits = append(t.lits, lit.String())
	return t, nil
}

// lone reports whether the template is exactly one placeholder.
func (t *textTemplate) lone() bool {
	return len(t.phs) == 1 && t.lits[0] == "" && t.lits[1] == ""
}

func (t *textTemplate) render(in *Input) string {
	if len(t.phs) == 0 {
		return t.lits[0]
	}
	var b strings.Builder
	for i, ph := range t.phs {
		b.WriteString(t.lits[i])
		if v, ok := ph.value(in); ok {
			b.WriteString(text(v))
		}
	}
	b.WriteString(t.lits[len(t.lits)-1])
	return b.String()
}

// text is a value written inside a longer string.
func text(v jsonstyle.Value) string {
	switch v.Kind {
	case jsonstyle.String, jsonstyle.Number:
		return v.Text
	case jsonstyle.Bool:
		return strconv.FormatBool(v.Bool)
	case jsonstyle.Null:
		return ""
	}
	return string(jsonstyle.Marshal(v, jsonstyle.Compact))
}

// template is a compiled JSON envelope.
type template struct {
	kind    jsonstyle.Kind
	literal jsonstyle.Value // scalars other than templated strings
	str     *textTemplate   // strings
	items   []*template
	keys    []string
	members []*template
}

func compileTemplate(raw []byte) (*template, error) {
	v, err := jsonstyle.Parse(raw)
	if err != nil {
		return nil, herald.Invalid("", "is not valid JSON: %v", err)
	}
	if v.Kind == jsonstyle.String {
		// A template may also be given as JSON text in a string, as it is
		// kept in a file or copied from documentation.
		if v, err = jsonstyle.ParseString(v.Text); err != nil {
			return nil, herald.Invalid("", "is a string that is not a JSON template: %v", err)
		}
	}
	if v.Kind != jsonstyle.Object && v.Kind != jsonstyle.Array {
		return nil, herald.Invalid("", "must be a JSON object (the envelope), or a string holding one")
	}
	var fields []herald.FieldError
	t := compileNode(v, "", &fields)
	if len(fields) > 0 {
		return nil, &herald.ValidationError{Fields: fields}
	}
	return t, nil
}

func compileNode(v jsonstyle.Value, loc string, fields *[]herald.FieldError) *template {
	t := &template{kind: v.Kind}
	switch v.Kind {
	case jsonstyle.String:
		s, err := compileText(v.Text, false)
		if err != nil {
			*fields = append(*fields, herald.FieldError{Location: loc, Message: err.Error()})
			return t
		}
		t.str = s
	case jsonstyle.Array:
		for i, it := range v.Items {
			t.items = append(t.items, compileNode(it, joinLoc(loc, fmt.Sprintf("[%d]", i)), fields))
		}
	case jsonstyle.Object:
		for _, m := range v.Members {
			if i := strings.Index(m.Key, "{{"); i >= 0 && strings.Contains(m.Key[i:], "}}") {
				*fields = append(*fields, herald.FieldError{Location: joinLoc(loc, m.Key), Message: "placeholders are not allowed in object keys"})
				continue
			}
			t.keys = append(t.keys, m.Key)
			t.members = append(t.members, compileNode(m.Value, joinLoc(loc, m.Key), fields))
		}
	default:
		t.literal = v
	}
	return t
}

func joinLoc(loc, part string) string {
	switch {
	case strings.HasPrefix(part, "["):
		return loc + part
	case loc == "":
		return part
	}
	return loc + "." + part
}

func (t *template) render(in *Input) jsonstyle.Value {
	switch t.kind {
	case jsonstyle.String:
		if t.str.lone() {
			// A lone placeholder keeps its own JSON type; a missing path is null.
			if v, ok := t.str.phs[0].value(in); ok {
				return v
			}
			return jsonstyle.NullValue()
		}
		return jsonstyle.StringValue(t.str.render(in))
	case jsonstyle.Array:
		items := make([]jsonstyle.Value, len(t.items))
		for i, it := range t.items {
			items[i] = it.render(in)
		}
		return jsonstyle.ArrayValue(items...)
	case jsonstyle.Object:
		members := make([]jsonstyle.Member, len(t.members))
		for i, m := range t.members {
			members[i] = jsonstyle.Member{Key: t.keys[i], Value: m.render(in)}
		}
		return jsonstyle.ObjectValue(members...)
	}
	return t.literal
}
