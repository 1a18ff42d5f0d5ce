package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/heraldhq/herald"
)

// retryAfterUnavailable is the Retry-After of a 503: a database blip is
// usually over within a second or two.
const retryAfterUnavailable = "1"

// retryAfterBusy is the Retry-After of a 429: a test send refused for an
// endpoint's cap finds room once one of its attempts ends, and most take
// well under a second.
const retryAfterBusy = "1"

// retryAfter is the Retry-After header an answer of this status carries,
// "" for none.
func retryAfter(status int) string {
	switch status {
	case http.StatusServiceUnavailable:
		return retryAfterUnavailable
	case http.StatusTooManyRequests:
		return retryAfterBusy
	}
	return ""
}

// problemType is the RFC 9457 "type" of every problem: the status says all.
const problemType = "about:blank"

func notFound(format string, args ...any) error {
	return herald.Errorf(herald.ErrNotFound, format, args...)
}

func conflict(format string, args ...any) error {
	return herald.Errorf(herald.ErrConflict, format, args...)
}

func forbidden(format string, args ...any) error {
	return herald.Errorf(herald.ErrForbidden, format, args...)
}

func unauthorized(format string, args ...any) error {
	return herald.Errorf(herald.ErrUnauthorized, format, args...)
}

// missing restates a lookup's ErrNotFound as "<what> <id> not found" and
// passes any other error through.
func missing(err error, what, id string) error {
	if errors.Is(err, herald.ErrNotFound) {
		return notFound("%s %s not found", what, id)
	}
	return err
}

func newProblem(status int, detail string) *huma.ErrorModel {
	return &huma.ErrorModel{Type: problemType, Title: http.StatusText(status), Status: status, Detail: detail}
}

// internalError is the answer to anything unexpected: the request id, so
// the log line can be found, and never the error's own text.
func internalError(reqID string) *huma.ErrorModel {
	p := newProblem(http.StatusInternalServerError, "internal error; the server log has the details under request id "+reqID)
	p.Instance = "urn:herald:request:" + reqID
	return p
}

// problem turns a handler's error into problem details, logging it when it
// is unexpected.
func (s *Server) problem(ctx context.Context, err error) *huma.ErrorModel {
	var p *huma.ErrorModel
	if errors.As(err, &p) {
		return p
	}
	var ve *herald.ValidationError
	if errors.As(err, &ve) {
		return validationProblem(ve)
	}
	if kind, status, ok := herald.StatusOf(err); ok {
		detail := strings.ToLower(http.StatusText(status))
		if kind == herald.ErrUnavailable {
			detail = "the database is not answering; retry in a moment (nothing was stored unless a later request shows it)"
		}
		// Errors from the store carry whatever text the driver chose,
		// so only a herald.Error's message reaches the client.
		var he *herald.Error
		if errors.As(err, &he) {
			detail = he.Message
		}
		return newProblem(status, detail)
	}
	reqID := requestID(ctx)
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		// The client went away; nobody reads this answer.
		s.log.Info("request canceled", "request_id", reqID)
		p := newProblem(http.StatusServiceUnavailable, "the request was canceled")
		p.Instance = "urn:herald:request:" + reqID
		return p
	}
	s.log.Error("unexpected error", "request_id", reqID, "error", err.Error())
	return internalError(reqID)
}

func validationProblem(ve *herald.ValidationError) *huma.ErrorModel {
	detail := "invalid input"
	if len(ve.Fields) > 0 {
		detail = ve.Error()
		if n := len(ve.Fields) - 1; n > 0 {
			detail += fmt.Sprintf(" (and %d more)", n)
		}
	}
	p := newProblem(http.StatusUnprocessableEntity, detail)
	for _, f := range ve.Fields {
		p.Errors = append(p.Errors, &huma.ErrorDetail{Location: f.Location, Message: f.Message})
	}
	return p
}

// finishProblem is applied to every problem before it is written, huma's
// own included: values echoed from the request are dropped (they can hold
// secrets and can be a megabyte long), a 500 huma raised without going
// through problem is logged and made an internal error, and every 5xx gets
// the request id.
func (s *Server) finishProblem(ctx context.Context, p *huma.ErrorModel) {
	if p.Type == "" {
		p.Type = problemType
	}
	for _, d := range p.Errors {
		if d != nil {
			d.Value = nil
			locateMissing(d)
			if strings.HasPrefix(d.Message, "invalid date/time for format") {
				// huma names Go's layout; say what a client should send.
				d.Message = "must be an RFC 3339 time, such as 2026-12-01T12:04:28Z"
			}
		}
	}
	// huma says only "validation failed"; name the first field, as our own
	// validation errors do.
	if p.Detail == "validation failed" && len(p.Errors) > 0 && p.Errors[0] != nil {
		d := p.Errors[0]
		p.Detail = strings.TrimPrefix(d.Location+": ", ": ") + d.Message
		if n := len(p.Errors) - 1; n > 0 {
			p.Detail += fmt.Sprintf(" (and %d more)", n)
		}
	}
	if p.Status > 500 && p.Instance == "" {
		p.Instance = "urn:herald:request:" + requestID(ctx)
	}
	if p.Status == 500 && p.Instance == "" {
		reqID := requestID(ctx)
		msgs := make([]string, 0, len(p.Errors))
		for _, d := range p.Errors {
			if d != nil {
				msgs = append(msgs, d.Message)
			}
		}
		s.log.Error("server error", "request_id", reqID, "status", p.Status, "detail", p.Detail, "errors", msgs)
		*p = *internalError(reqID)
	}
}

// locateMissing moves huma's "expected required property x to be present"
// at the parent object to the missing member itself, so every field error
// is located at the field it names.
func locateMissing(d *huma.ErrorDetail) {
	name, ok := strings.CutPrefix(d.Message, "expected required property ")
	if name, ok2 := strings.CutSuffix(name, " to be present"); ok && ok2 && name != "" {
		d.Location += "." + name
		d.Message = "is required"
	}
}

// transformError is a huma transformer: it finishes the problems huma
// writes itself (validation failures, unreadable bodies).
func (s *Server) transformError(ctx huma.Context, _ string, v any) (any, error) {
	if p, ok := v.(*huma.ErrorModel); ok {
		s.finishProblem(ctx.Context(), p)
	}
	return v, nil
}

// writeError answers with err as problem details from a middleware, where
// huma's own error path is not available.
func (s *Server) writeError(ctx huma.Context, err error) {
	p := s.problem(ctx.Context(), err)
	s.finishProblem(ctx.Context(), p)
	if p.Status == http.StatusUnauthorized {
		ctx.SetHeader("WWW-Authenticate", `Bearer realm="herald"`)
	}
	if ra := retryAfter(p.Status); ra != "" {
		ctx.SetHeader("Retry-After", ra)
	}
	ctx.SetHeader("Content-Type", "application/problem+json")
	ctx.SetStatus(p.Status)
	json.NewEncoder(ctx.BodyWriter()).Encode(p)
}

// writeProblem answers with p before any route runs.
func writeProblem(w http.ResponseWriter, p *huma.ErrorModel) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}
