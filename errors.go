package herald

import (
	"errors"
	"fmt"
)

// Error kinds shared by every layer. The api package maps each to one HTTP
// status in a single table; nothing else knows about statuses.
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
)

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
