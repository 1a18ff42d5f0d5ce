package herald

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// Error kinds shared by every layer. Each maps to one HTTP status in a
// single table (StatusOf), which the API and the dashboard both read.
var (
	// ErrNotFound is returned when an object does not exist (or belongs to
	// another tenant, which callers must not be able to tell apart).
	ErrNotFound = errors.New("not found")
	// ErrConflict is returned when a write collides with existing state.
	ErrConflict = errors.New("conflict")
	// ErrInvalid is returned when input is well-formed but a field is wrong.
	ErrInvalid = errors.New("invalid")
	// ErrForbidden is returned when the caller's key has the wrong scope.
	ErrForbidden = errors.New("forbidden")
	// ErrUnauthorized is returned when no key or an unknown key is given.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrUnavailable is returned when the database cannot be reached or is
	// too busy to answer in time: the request may succeed if retried.
	ErrUnavailable = errors.New("unavailable")
	// ErrBusy is returned when a cap on work in flight leaves no room for
	// the request now (an endpoint's attempts in flight, for a test send):
	// it may succeed if retried in a moment.
	ErrBusy = errors.New("busy")
)

// statuses is the one table from error kinds to HTTP statuses; the first
// kind an error matches wins.
var statuses = []struct {
	kind   error
	status int
}{
	{ErrUnauthorized, http.StatusUnauthorized},
	{ErrForbidden, http.StatusForbidden},
	{ErrNotFound, http.StatusNotFound},
	{ErrConflict, http.StatusConflict},
	{ErrInvalid, http.StatusUnprocessableEntity},
	{ErrUnavailable, http.StatusServiceUnavailable},
	{ErrBusy, http.StatusTooManyRequests},
}

// StatusOf is the HTTP status of err's kind and the kind it matched, or
// ok false when it matches none (a 500).
func StatusOf(err error) (kind error, status int, ok bool) {
	for _, k := range statuses {
		if errors.Is(err, k.kind) {
			return k.kind, k.status, true
		}
	}
	return nil, 0, false
}

// FieldError says which input field is wrong and why. Location uses the
// problem-details convention: "body.url", "query.limit", "path.tenant".
type FieldError struct {
	Location string
	Message  string
}

// ValidationError is an ErrInvalid that names the fields at fault.
type ValidationError struct {
	Fields []FieldError
}

// Invalid returns a ValidationError for one field.
func Invalid(location, format string, args ...any) *ValidationError {
	return &ValidationError{Fields: []FieldError{{Location: location, Message: fmt.Sprintf(format, args...)}}}
}

// Error returns the first field's location and message.
func (e *ValidationError) Error() string {
	if len(e.Fields) == 0 {
		return "invalid input"
	}
	f := e.Fields[0]
	if f.Location == "" {
		return f.Message
	}
	return f.Location + ": " + f.Message
}

// Is makes errors.Is(err, ErrInvalid) true for every ValidationError.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// Locations lists, in order, the field locations of the ValidationError in
// err's chain; nil when err is not one.
func Locations(err error) []string {
	var ve *ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	out := make([]string, len(ve.Fields))
	for i, f := range ve.Fields {
		out[i] = f.Location
	}
	return out
}

// Prefix returns a copy whose field locations are prefixed with p and a dot,
// so a validator of a nested object can report "body.signature.scheme".
func (e *ValidationError) Prefix(p string) *ValidationError {
	out := &ValidationError{Fields: make([]FieldError, len(e.Fields))}
	for i, f := range e.Fields {
		if f.Location == "" {
			f.Location = p
		} else {
			f.Location = p + "." + f.Location
		}
		out.Fields[i] = f
	}
	return out
}

// Error is an error of one kind (ErrNotFound, ErrConflict, ...) with a
// message written for whoever made the request, such as "endpoint ep_1 not
// found". The API shows the message as the problem's detail; an error of a
// kind without one shows only the kind, because a driver's own text may say
// more than a client should read.
type Error struct {
	Kind    error
	Message string
}

// Errorf returns an Error of kind with a formatted message.
func Errorf(kind error, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Unwrap gives the kind, for errors.Is.
func (e *Error) Unwrap() error { return e.Kind }

// Fields collects the field errors of one input, in the order they are
// found, so that a client learns of every wrong field at once. Err makes
// the ValidationError.
type Fields []FieldError

// Add adds a field error at location.
func (f *Fields) Add(location, format string, args ...any) {
	*f = append(*f, FieldError{Location: location, Message: fmt.Sprintf(format, args...)})
}

// AddErr adds err's fields, prefixed with location as Prefix does, or err's
// text at location when err is not a ValidationError.
func (f *Fields) AddErr(location string, err error) {
	var ve *ValidationError
	switch {
	case errors.As(err, &ve) && location == "":
		*f = append(*f, ve.Fields...)
	case errors.As(err, &ve):
		*f = append(*f, ve.Prefix(location).Fields...)
	default:
		f.Add(location, "%s", err.Error())
	}
}

// Text refuses NUL in free text (names, descriptions): PostgreSQL text
// cannot hold it, and it is never meant.
func (f *Fields) Text(location, s string) {
	if strings.ContainsRune(s, 0) {
		f.Add(location, "must not contain NUL characters")
	}
}

// Window refuses a time window (a list's ?since= and ?until=) that ends
// before it starts; a zero time is an open end. since == until is an empty
// window, not an error.
func (f *Fields) Window(untilLocation string, since, until time.Time) {
	if !since.IsZero() && !until.IsZero() && until.Before(since) {
		f.Add(untilLocation, "must not be before since (%s)", since.UTC().Format(time.RFC3339Nano))
	}
}

// MaxMetadataBytes bounds the metadata of a tenant or an endpoint, as
// compact JSON: metadata is shown in every list of them, and 250 objects
// of 16 KiB make a 4 MiB page.
const MaxMetadataBytes = 16 << 10

// Metadata refuses metadata (compact JSON, or nil for none) that is not a
// JSON object of valid UTF-8, or is larger than MaxMetadataBytes.
func (f *Fields) Metadata(location string, m json.RawMessage) {
	switch {
	case m == nil:
	case len(m) > MaxMetadataBytes:
		f.Add(location, "is %d bytes of JSON; metadata may be at most %d (16 KiB)", len(m), MaxMetadataBytes)
	case !utf8.Valid(m):
		f.Add(location, "is not valid UTF-8")
	case !json.Valid(m) || m[0] != '{':
		f.Add(location, "must be a JSON object")
	}
}

// Err returns the fields as a *ValidationError, or nil when there are none.
func (f Fields) Err() error {
	if len(f) == 0 {
		return nil
	}
	return &ValidationError{Fields: f}
}
