package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/heraldhq/herald"
)

var (
	// tenantIDRE: tenant ids are chosen by the user.
	tenantIDRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
	// eventTypeRE: dot-hierarchical names, no empty segment.
	eventTypeRE = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)
	// eventFilterRE: "*", "a.*" or a type name.
	eventFilterRE = regexp.MustCompile(`^(\*|[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*(\.\*)?)$`)
	// eventIDRE: a producer's own event id; no "." because it is part of
	// signed content ("{msg_id}.{timestamp}.{body}").
	eventIDRE = regexp.MustCompile(`^[A-Za-z0-9_:-]{1,128}$`)
)

const (
	maxEventTypeLen = 128
	maxFilters      = 100
	maxHeaders      = 50
	maxHeaderValue  = 1024
)

// fields collects field errors; err is nil when there are none.
type fields []herald.FieldError

func (f *fields) add(loc, format string, args ...any) {
	*f = append(*f, herald.Invalid(loc, format, args...).Fields...)
}

// addErr adds err's fields, prefixed with loc, or err's text at loc when it
// is not a ValidationError.
func (f *fields) addErr(loc string, err error) {
	var ve *herald.ValidationError
	switch {
	case errors.As(err, &ve) && loc == "":
		*f = append(*f, ve.Fields...)
		return
	case errors.As(err, &ve):
		*f = append(*f, ve.Prefix(loc).Fields...)
		return
	}
	f.add(loc, "%s", err.Error())
}

// text refuses NUL in free text (names, descriptions): PostgreSQL text
// cannot hold it, and it is never meant.
func (f *fields) text(loc, s string) {
	if strings.ContainsRune(s, 0) {
		f.add(loc, "must not contain NUL characters")
	}
}

func (f fields) err() error {
	if len(f) == 0 {
		return nil
	}
	return &herald.ValidationError{Fields: f}
}

func validEventType(s string) bool {
	return len(s) <= maxEventTypeLen && eventTypeRE.MatchString(s)
}

func checkEventFilters(f *fields, loc string, filters []string) {
	if len(filters) == 0 {
		f.add(loc, `must list at least one event type, "a.*" or "*"`)
	}
	if len(filters) > maxFilters {
		f.add(loc, "has %d filters, at most %d are allowed", len(filters), maxFilters)
		return
	}
	for i, s := range filters {
		if len(s) > maxEventTypeLen || !eventFilterRE.MatchString(s) {
			f.add(loc+"["+strconv.Itoa(i)+"]", `must be "*", a prefix such as "user.*", or an event type name of A-Z a-z 0-9 _ - separated by dots`)
		}
	}
}

// reservedHeaders are set by Herald on every delivery.
var reservedHeaders = map[string]bool{
	"Host": true, "Content-Length": true, "Content-Type": true, "Transfer-Encoding": true,
	"Connection": true, "Te": true, "Trailer": true, "Upgrade": true, "Keep-Alive": true,
	"Webhook-Id": true, "Webhook-Timestamp": true, "Webhook-Signature": true,
}

// checkHeaders checks an endpoint's extra headers: token names, values
// without control characters, nothing Herald sets itself (reserved holds
// the format's signature headers too).
func checkHeaders(f *fields, loc string, h map[string]string, reserved []string) {
	if len(h) > maxHeaders {
		f.add(loc, "has %d headers, at most %d are allowed", len(h), maxHeaders)
		return
	}
	for name, value := range h {
		l := loc + "." + name
		canon := http.CanonicalHeaderKey(name)
		switch {
		case !isToken(name):
			f.add(loc, "%q is not a valid HTTP header name", name)
			continue
		case reservedHeaders[canon] || containsFold(reserved, name):
			f.add(l, "is set by Herald and cannot be overridden")
		case len(value) > maxHeaderValue:
			f.add(l, "must be at most %d bytes", maxHeaderValue)
		case !validHeaderValue(value):
			f.add(l, "must not contain control characters")
		}
	}
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// jsonObject is a JSON object kept as the client wrote it (numbers are not
// rounded through float64), documented and validated as an object.
type jsonObject json.RawMessage

// Schema makes huma document and check the value as an object.
func (jsonObject) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: huma.TypeObject, AdditionalProperties: true}
}

// UnmarshalJSON keeps the bytes.
func (o *jsonObject) UnmarshalJSON(b []byte) error {
	*o = append((*o)[:0], b...)
	return nil
}

// MarshalJSON writes the bytes, or {} for none.
func (o jsonObject) MarshalJSON() ([]byte, error) {
	if len(bytes.TrimSpace(o)) == 0 || string(o) == "null" {
		return []byte("{}"), nil
	}
	return o, nil
}

// compact returns o in compact form for storing, nil for none or null.
func (o jsonObject) compact() (json.RawMessage, error) {
	if len(o) == 0 || string(bytes.TrimSpace(o)) == "null" {
		return nil, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, o); err != nil {
		return nil, err
	}
	if buf.Len() == 0 || buf.Bytes()[0] != '{' {
		return nil, errors.New("must be a JSON object")
	}
	return buf.Bytes(), nil
}

// metadata returns stored metadata for output: {} when there is none.
func metadata(m json.RawMessage) jsonObject {
	if len(m) == 0 {
		return jsonObject("{}")
	}
	return jsonObject(m)
}
