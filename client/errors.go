package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The kinds of error the server answers with, for errors.Is: an *Error
// matches the kind of its status.
var (
	ErrBadRequest   = errors.New("bad request")              // 400: the body is not JSON, the query does not parse
	ErrUnauthorized = errors.New("unauthorized")             // 401: no key, or one the server does not know
	ErrForbidden    = errors.New("forbidden")                // 403: the key may not do this
	ErrNotFound     = errors.New("not found")                // 404: no such object (or another tenant's)
	ErrConflict     = errors.New("conflict")                 // 409: the id is taken, the object is in use or busy
	ErrTooLarge     = errors.New("request body too large")   // 413
	ErrInvalid      = errors.New("invalid")                  // 422: a field is invalid; Error.Errors names each
	ErrUnavailable  = errors.New("service unavailable")      // 503: retry after Error.RetryAfter
	ErrServer       = errors.New("server error")             // any other 5xx
	errOther        = errors.New("unexpected answer status") // anything else
)

var kindOf = map[int]error{
	http.StatusBadRequest:            ErrBadRequest,
	http.StatusUnauthorized:          ErrUnauthorized,
	http.StatusForbidden:             ErrForbidden,
	http.StatusNotFound:              ErrNotFound,
	http.StatusConflict:              ErrConflict,
	http.StatusRequestEntityTooLarge: ErrTooLarge,
	http.StatusUnprocessableEntity:   ErrInvalid,
	http.StatusServiceUnavailable:    ErrUnavailable,
}

// Error is an answer of status 400 or more, with the RFC 9457 problem
// details the server sent (application/problem+json). When the answer was
// not problem details (a proxy's error page), Detail holds the start of
// its text.
type Error struct {
	// StatusCode is the HTTP status of the answer.
	StatusCode int `json:"status"`
	// Type, Title, Detail and Instance are the problem's members: Title is
	// the status's name, Detail says what was wrong ("endpoint ep_...
	// not found").
	Type     string `json:"type,omitempty"`
	Title    string `json:"title,omitempty"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// Errors lists each invalid field of a 422, by location
	// ("body.url", "query.limit", "path.tenant").
	Errors []FieldError `json:"errors,omitempty"`
	// RequestID is the answer's X-Request-Id, under which the server
	// logged it.
	RequestID string `json:"-"`
	// RetryAfter is the answer's Retry-After (a 503, a 409 of a request
	// still in progress), or 0.
	RetryAfter time.Duration `json:"-"`
}

// FieldError is one invalid field of a request.
type FieldError struct {
	// Location is where the field is: "body.events[2]", "query.cursor".
	Location string `json:"location,omitempty"`
	// Message says what is wrong with it.
	Message string `json:"message"`
	// Value is the value refused, when the server shows it.
	Value any `json:"value,omitempty"`
}

// Error is "<status> <title>: <detail>".
func (e *Error) Error() string {
	title := e.Title
	if title == "" {
		title = http.StatusText(e.StatusCode)
	}
	msg := fmt.Sprintf("%d %s", e.StatusCode, title)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Is matches the kind of the answer's status (ErrNotFound for a 404, and
// so on).
func (e *Error) Is(target error) bool {
	k, ok := kindOf[e.StatusCode]
	switch {
	case ok:
		return k == target
	case e.StatusCode >= 500:
		return target == ErrServer
	}
	return target == errOther
}

// errorFrom reads an answer of status 400 or more.
func errorFrom(resp *http.Response) *Error {
	e := &Error{RequestID: resp.Header.Get("X-Request-Id")}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt == "application/problem+json" || mt == "application/json" {
		if json.Unmarshal(body, e) == nil && (e.Title != "" || e.Detail != "") {
			e.StatusCode = resp.StatusCode // the answer's, whatever the body says
			return e
		}
		*e = Error{RequestID: e.RequestID, RetryAfter: e.RetryAfter}
	}
	e.StatusCode = resp.StatusCode
	e.Detail = excerpt(body)
	return e
}

// excerpt is the start of a body that is not problem details, on one line.
func excerpt(b []byte) string {
	const most = 200
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "?")), " ")
	if len(s) > most {
		cut := most
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}
