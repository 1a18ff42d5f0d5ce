package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/header"
	"github.com/heraldhq/herald/internal/naming"
)

const (
	maxFilters     = 100
	maxHeaders     = 50
	maxHeaderValue = 1024
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

func checkEventFilters(f *fields, loc string, filters []string) {
	if len(filters) == 0 {
		f.add(loc, `must list at least one event type, "a.*" or "*"`)
	}
	if len(filters) > maxFilters {
		f.add(loc, "has %d filters, at most %d are allowed", len(filters), maxFilters)
		return
	}
	for i, s := range filters {
		if !naming.EventFilter(s) {
			f.add(loc+"["+strconv.Itoa(i)+"]", `must be "*", a prefix such as "user.*", or an event type name of A-Z a-z 0-9 _ - separated by dots`)
		}
	}
}

// checkHeaders checks an endpoint's extra headers: token names, values
// without control characters, nothing Herald sets itself (signature holds
// the headers of the format's signature scheme).
func checkHeaders(f *fields, loc string, h map[string]string, signature []string) {
	if len(h) > maxHeaders {
		f.add(loc, "has %d headers, at most %d are allowed", len(h), maxHeaders)
		return
	}
	for name, value := range h {
		l := loc + "." + name
		switch {
		case !header.ValidName(name):
			f.add(loc, "%q is not a valid HTTP header name", name)
			continue
		case header.Reserved(name, signature):
			f.add(l, "is set by Herald and cannot be overridden")
		case len(value) > maxHeaderValue:
			f.add(l, "must be at most %d bytes", maxHeaderValue)
		case !header.ValidValue(value):
			f.add(l, "must not contain control characters")
		}
	}
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
