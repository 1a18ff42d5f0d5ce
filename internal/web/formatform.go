package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/format"
	"github.com/heraldhq/herald/internal/formatsvc"
	"github.com/heraldhq/herald/internal/signature"
)

// Editing a stored format: its definition as a form, one input per member
// of the format object (docs/formats.md), and each fault the format
// service finds ("definition.retry.schedule[1]", "definition.headers.X-A")
// shown beside the input it is about.

// formatForm is a format's definition as the form has it.
type formatForm struct {
	Scheme, Header, TimestampHeader, Prefix, Encoding string
	Body, JSON, Schedule, RetryOn, Timeout            string
	TestEventType, FailureEventType, DisabledType     string
	Headers                                           []headerRow
}

// headerRow is one header of the form: its inputs are fmt-header-N-name
// and fmt-header-N-value.
type headerRow struct {
	Name, Value string
}

// blankHeaderRows are the empty rows after a format's headers, for new
// ones.
const blankHeaderRows = 2

// maxHeaderRows bounds the header rows a form may send: a few more than a
// format may have, so that the format's own limit is the one refused.
const maxHeaderRows = format.MaxHeaders + 10

// formatFormOf is the form of a format's definition (with its defaults
// filled in, as Definition gives it).
func formatFormOf(def json.RawMessage) (formatForm, error) {
	var d format.Definition
	if err := json.Unmarshal(def, &d); err != nil {
		return formatForm{}, fmt.Errorf("read format definition: %w", err)
	}
	f := formatForm{
		Scheme: d.Signature.SchemeName(), Header: d.Signature.Header, TimestampHeader: d.Signature.TimestampHeader,
		Encoding: d.Signature.Encoding, JSON: d.JSON, Schedule: strings.Join(d.Retry.Schedule, ", "), RetryOn: d.Retry.On,
		Timeout: d.Timeout, TestEventType: d.TestEventType, FailureEventType: d.FailureEventType, DisabledType: d.DisabledEventType,
	}
	switch {
	case d.Signature.Prefix != nil:
		f.Prefix = *d.Signature.Prefix
	case f.Scheme == signature.Body:
		// What no prefix at all means for this scheme, written out: the
		// form's empty prefix is none.
		f.Prefix = signature.DefaultPrefix
	}
	var body bytes.Buffer
	if err := json.Indent(&body, d.Body, "", "  "); err != nil {
		f.Body = string(d.Body)
	} else {
		f.Body = body.String()
	}
	names := make([]string, 0, len(d.Headers))
	for n := range d.Headers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f.Headers = append(f.Headers, headerRow{Name: n, Value: d.Headers[n]})
	}
	f.padHeaders()
	return f, nil
}

// padHeaders leaves blankHeaderRows empty rows at the end.
func (f *formatForm) padHeaders() {
	blank := 0
	for i := len(f.Headers) - 1; i >= 0 && f.Headers[i] == (headerRow{}); i-- {
		blank++
	}
	for ; blank < blankHeaderRows; blank++ {
		f.Headers = append(f.Headers, headerRow{})
	}
}

func readFormatForm(r *http.Request) formatForm {
	v := r.PostForm
	get := func(k string) string { return strings.TrimSpace(v.Get(k)) }
	f := formatForm{
		Scheme: get("scheme"), Header: get("header"), TimestampHeader: get("timestamp_header"),
		Prefix: v.Get("prefix"), Encoding: get("encoding"), Body: v.Get("body"), JSON: get("json"),
		Schedule: get("schedule"), RetryOn: get("retry_on"), Timeout: get("timeout"),
		TestEventType: get("test_event_type"), FailureEventType: get("failure_event_type"), DisabledType: get("disabled_event_type"),
	}
	names, values := v["header_name"], v["header_value"]
	for i := range min(max(len(names), len(values)), maxHeaderRows) {
		var row headerRow
		if i < len(names) {
			row.Name = strings.TrimSpace(names[i])
		}
		if i < len(values) {
			row.Value = values[i]
		}
		f.Headers = append(f.Headers, row)
	}
	return f
}

// definition is the format object the form describes, or the faults of
// reading it (a body that is not JSON, a header without a name or given
// twice), located as the format service locates its own.
func (f *formatForm) definition(name string) (json.RawMessage, error) {
	var fe herald.Fields
	d := format.Definition{
		Name: name, JSON: f.JSON, Timeout: f.Timeout,
		Signature: signature.Config{
			Scheme: f.Scheme, Header: f.Header, TimestampHeader: f.TimestampHeader, Encoding: f.Encoding,
		},
		Retry:         format.RetryDefinition{Schedule: splitList(f.Schedule), On: f.RetryOn},
		TestEventType: f.TestEventType, FailureEventType: f.FailureEventType, DisabledEventType: f.DisabledType,
	}
	// The form's empty prefix is none for the body scheme, and not given
	// for the others (which take none).
	if f.Prefix != "" || f.Scheme == signature.Body {
		d.Signature.Prefix = &f.Prefix
	}
	if body := strings.TrimSpace(f.Body); body != "" {
		if err := json.Unmarshal([]byte(body), new(any)); err != nil {
			fe.Add("definition.body", "is not JSON: %v", err)
		} else {
			d.Body = json.RawMessage(body)
		}
	}
	seen := map[string]int{}
	for i, h := range f.Headers {
		switch {
		case h.Name == "" && h.Value == "":
			continue
		case h.Name == "":
			fe.Add(fmt.Sprintf("form.headers[%d]", i), "has a value but no name")
			continue
		}
		if j, ok := seen[h.Name]; ok {
			fe.Add(fmt.Sprintf("form.headers[%d]", i), "%s is given twice (also in row %d)", h.Name, j+1)
			continue
		}
		seen[h.Name] = i
		if d.Headers == nil {
			d.Headers = map[string]string{}
		}
		d.Headers[h.Name] = h.Value
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("format %s: %w", name, err)
	}
	return raw, nil
}

// splitList splits the schedule's field at commas and white space: an
// empty field is no retries at all.
func splitList(s string) []string {
	return append([]string{}, strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })...)
}

// formatInputs are the inputs of the form by the location, within the
// format object, of the faults shown beside them: a fault at the location
// or within it (body.data, retry.schedule[2]) goes to its input. The more
// precise come first.
var formatInputs = []struct{ loc, id string }{
	{"signature.scheme", "fmt-scheme"},
	{"signature.header", "fmt-sig-header"},
	{"signature.timestamp_header", "fmt-ts-header"},
	{"signature.prefix", "fmt-prefix"},
	{"signature.encoding", "fmt-encoding"},
	{"signature", "fmt-scheme"},
	{"body", "fmt-body"},
	{"json", "fmt-json"},
	{"retry.schedule", "fmt-schedule"},
	{"retry.on", "fmt-retry-on"},
	{"retry", "fmt-schedule"},
	{"timeout", "fmt-timeout"},
	{"test_event_type", "fmt-test-type"},
	{"failure_event_type", "fmt-failure-type"},
	{"disabled_event_type", "fmt-disabled-type"},
	{"headers", "fmt-headers"},
}

var scheduleIndex = regexp.MustCompile(`^\[(\d+)\]`)

// formatErrors are a format form's faults, each at the input it is about
// (by the input's id), and those about none of them.
type formatErrors struct {
	at    map[string][]string
	Other []string
}

// Of is the message of the faults at input id, "" when there are none.
func (e *formatErrors) Of(id string) string {
	if e == nil {
		return ""
	}
	return strings.Join(e.at[id], "; ")
}

// Any reports whether there are faults.
func (e *formatErrors) Any() bool { return e != nil && (len(e.at) > 0 || len(e.Other) > 0) }

// placeFormatErrors puts each fault of the format service (located in its
// params: "definition.signature.header") or of reading the form
// ("form.headers[3]") beside its input.
func placeFormatErrors(fields []herald.FieldError, form *formatForm) *formatErrors {
	e := &formatErrors{at: map[string][]string{}}
	add := func(id, msg string) { e.at[id] = append(e.at[id], msg) }
outer:
	for _, fe := range fields {
		loc := fe.Location
		if rest, ok := strings.CutPrefix(loc, "form.headers["); ok {
			if n, err := strconv.Atoi(strings.TrimSuffix(rest, "]")); err == nil {
				add(fmt.Sprintf("fmt-header-%d", n), fe.Message)
				continue
			}
		}
		loc, ok := strings.CutPrefix(loc, "definition.")
		if !ok {
			e.Other = append(e.Other, strings.TrimPrefix(fe.Location+": ", "definition: ")+fe.Message)
			continue
		}
		// A header's own fault goes to its row.
		if name, ok := strings.CutPrefix(loc, "headers."); ok {
			for i, h := range form.Headers {
				if h.Name == name {
					add(fmt.Sprintf("fmt-header-%d", i), name+" "+fe.Message)
					continue outer
				}
			}
		}
		for _, in := range formatInputs {
			rest, ok := strings.CutPrefix(loc, in.loc)
			if !ok || rest != "" && rest[0] != '.' && rest[0] != '[' {
				continue
			}
			msg := fe.Message
			switch m := scheduleIndex.FindStringSubmatch(rest); {
			case in.loc == "retry.schedule" && m != nil:
				n, _ := strconv.Atoi(m[1])
				msg = "delay " + strconv.Itoa(n+1) + ": " + msg
			case rest != "":
				msg = strings.TrimPrefix(rest, ".") + ": " + msg
			}
			add(in.id, msg)
			continue outer
		}
		e.Other = append(e.Other, loc+": "+fe.Message)
	}
	return e
}

type formatEditData struct {
	Name   string
	Form   formatForm
	Errors *formatErrors
	// Schemes, Styles and RetryOns are the choices of the selects.
	Schemes, Styles, RetryOns []string
}

func newFormatEditData(name string, form formatForm, errs *formatErrors) *formatEditData {
	form.padHeaders()
	return &formatEditData{
		Name: name, Form: form, Errors: errs,
		Schemes:  []string{signature.StandardWebhooks, signature.Timestamped, signature.Body, signature.BodyThenTimestamp},
		Styles:   []string{"compact", "python"},
		RetryOns: []string{format.RetryOnNon2xx, format.RetryOn5xx},
	}
}

func formatPath(name string) string { return "/formats/" + url.PathEscape(name) }

// formatEdit shows a stored format's definition as a form. A built-in
// format cannot be changed: its page says so.
func (h *Handler) formatEdit(w http.ResponseWriter, r *http.Request, ss *session) {
	f, err := h.formats.Get(r.Context(), r.PathValue("format"))
	if err != nil {
		h.renderError(w, r, ss, err)
		return
	}
	if f.Builtin {
		h.renderStatus(w, r, ss, http.StatusConflict, "Format "+f.Name+" is built in and cannot be changed.")
		return
	}
	form, err := formatFormOf(f.Definition())
	if err != nil {
		h.renderError(w, r, ss, err)
		return
	}
	h.showFormatEdit(w, r, ss, http.StatusOK, newFormatEditData(f.Name, form, nil))
}

func (h *Handler) showFormatEdit(w http.ResponseWriter, r *http.Request, ss *session, status int, d *formatEditData) {
	p := h.newPage(ss, "Edit format "+d.Name, d)
	p.Nav = "formats"
	h.render(w, r, status, "formatedit", p)
}

// formatUpdate replaces a stored format with the form's definition, as
// PUT /api/v1/formats/{name} does: refused, it shows the form again with
// each fault beside its input.
func (h *Handler) formatUpdate(w http.ResponseWriter, r *http.Request, ss *session) {
	ctx := r.Context()
	cur, err := h.formats.Get(ctx, r.PathValue("format"))
	if err != nil {
		h.renderError(w, r, ss, err)
		return
	}
	form := readFormatForm(r)
	def, err := form.definition(cur.Name)
	var f *format.Format
	if err == nil {
		f, _, err = h.formats.Put(ctx, &formatsvc.PutParams{Name: cur.Name, Definition: def})
	}
	if err != nil {
		status, msg := h.describe(ctx, r, err)
		errs := &formatErrors{}
		switch fields := fieldErrors(err); {
		case fields != nil:
			errs = placeFormatErrors(fields, &form)
		case errors.Is(err, herald.ErrConflict):
			errs.Other = []string{msg}
		default:
			h.renderError(w, r, ss, err)
			return
		}
		h.showFormatEdit(w, r, ss, status, newFormatEditData(cur.Name, form, errs))
		return
	}
	h.sessions.addFlash(ss, flash{Kind: "ok", Message: "Format " + f.Name + " saved: deliveries rendered from now on use it."})
	for _, warn := range f.Warnings() {
		h.sessions.addFlash(ss, flash{Kind: "warn", Message: "A warning: " + warn})
	}
	http.Redirect(w, r, formatPath(f.Name), http.StatusSeeOther)
}
