package api

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/formatsvc"
	"github.com/heraldhq/herald/internal/store"
)

// formatDefinition documents the format object (docs/formats.md) for the
// OpenAPI document and lets huma refuse unknown members and wrong types with
// the same 422 as every other body. The format package does the real
// validation, from the raw body.
type formatDefinition struct {
	Name      string `json:"name,omitempty" example:"acme-v1" doc:"Defaults to the name in the path, which it must match."`
	Signature *struct {
		Scheme          string  `json:"scheme,omitempty" enum:"standard-webhooks,timestamped,body,body-then-timestamp"`
		Header          string  `json:"header,omitempty" example:"X-Acme-Signature"`
		TimestampHeader string  `json:"timestamp_header,omitempty"`
		Prefix          *string `json:"prefix,omitempty" doc:"body scheme: written before the signature; default sha256="`
		Encoding        string  `json:"encoding,omitempty" enum:"hex,base64"`
	} `json:"signature,omitempty"`
	Body    json.RawMessage   `json:"body,omitempty" doc:"The envelope template: any JSON value, with {{placeholders}} in strings."`
	JSON    string            `json:"json,omitempty" enum:"compact,python"`
	Headers map[string]string `json:"headers,omitempty"`
	Retry   *struct {
		Schedule []string `json:"schedule,omitempty" example:"[\"1s\",\"5s\",\"25s\"]"`
		On       string   `json:"on,omitempty" enum:"non-2xx,5xx"`
	} `json:"retry,omitempty"`
	Timeout           string `json:"timeout,omitempty" example:"30s"`
	TestEventType     string `json:"test_event_type,omitempty" example:"webhook.test"`
	FailureEventType  string `json:"failure_event_type,omitempty" example:"webhook.delivery_failed"`
	DisabledEventType string `json:"disabled_event_type,omitempty" example:"webhook.endpoint_disabled"`
}

// formatObject is a format definition in an answer: the JSON the format
// package wrote, every default filled in, ready to be PUT again.
type formatObject json.RawMessage

// Schema documents the object as the format definition.
func (formatObject) Schema(r huma.Registry) *huma.Schema {
	return r.Schema(reflect.TypeFor[formatDefinition](), true, "FormatDefinition")
}

// MarshalJSON writes the definition as it is.
func (o formatObject) MarshalJSON() ([]byte, error) { return o, nil }

type formatPath struct {
	Name string `path:"name" maxLength:"64" doc:"Format name."`
}

type formatPutInput struct {
	Name    string `path:"name" maxLength:"64" doc:"Format name."`
	Body    formatDefinition
	RawBody []byte
}

type formatOutput struct {
	Status int
	// Warning says what the check found risky but allowed (a body that
	// repeats the event's data), on PUT.
	Warning string `header:"Herald-Warning" doc:"What the format check found risky but allowed, e.g. a body that repeats the event's data."`
	Body    formatObject
}

func (s *Server) registerFormats() {
	const base = "/api/v1/formats"
	tags := []string{"Formats"}
	register(s, huma.Operation{
		OperationID: "put-format", Method: http.MethodPut, Path: base + "/{name}", Tags: tags,
		Summary: "Create or replace a format", Description: "Answers 201 when it was created, 200 when it was replaced. Built-in formats cannot be replaced.",
		Errors:    []int{http.StatusConflict},
		Responses: map[string]*huma.Response{"201": {Description: "Created"}},
	}, scopeAdmin, s.putFormat)
	register(s, huma.Operation{
		OperationID: "list-formats", Method: http.MethodGet, Path: base, Tags: tags,
		Summary: "List formats, the built-in ones included",
	}, scopeAnyKey, s.listFormats)
	register(s, huma.Operation{
		OperationID: "get-format", Method: http.MethodGet, Path: base + "/{name}", Tags: tags,
		Summary: "Get a format", Errors: []int{http.StatusNotFound},
	}, scopeAnyKey, func(ctx context.Context, in *formatPath) (*formatOutput, error) {
		f, err := s.formats.Get(ctx, in.Name)
		if err != nil {
			return nil, err
		}
		return &formatOutput{Status: http.StatusOK, Body: formatObject(f.Definition())}, nil
	})
	register(s, huma.Operation{
		OperationID: "delete-format", Method: http.MethodDelete, Path: base + "/{name}", Tags: tags,
		Summary: "Delete a format", Description: "A format that an endpoint uses, or a built-in one, cannot be deleted (409).",
		DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound, http.StatusConflict},
	}, scopeAdmin, s.deleteFormat)

	// The body is read as raw bytes too, which makes huma document it as
	// binary; document the format object instead.
	put := s.api.OpenAPI().Paths[base+"/{name}"].Put
	put.RequestBody.Content = map[string]*huma.MediaType{"application/json": {
		Schema: s.api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[formatDefinition](), true, "FormatDefinition"),
	}}
	copyResponse(s.api.OpenAPI(), base+"/{name}", http.MethodPut, "200", "201")
}

func (s *Server) putFormat(ctx context.Context, in *formatPutInput) (*formatOutput, error) {
	f, created, err := s.formats.Put(ctx, &formatsvc.PutParams{Name: in.Name, Definition: in.RawBody})
	if err != nil {
		return nil, formatFaults(err)
	}
	out := &formatOutput{Status: http.StatusOK, Body: formatObject(f.Definition()), Warning: strings.Join(f.Warnings(), "; ")}
	if created {
		out.Status = http.StatusCreated
	}
	return out, nil
}

// formatFaults places the format service's field errors where the request
// has them: the name is the path's, the definition is the body.
func formatFaults(err error) error {
	var ve *herald.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	out := &herald.ValidationError{Fields: make([]herald.FieldError, len(ve.Fields))}
	for i, f := range ve.Fields {
		if rest, ok := strings.CutPrefix(f.Location, "definition"); ok {
			f.Location = "body" + rest
		} else {
			f.Location = "path." + f.Location
		}
		out.Fields[i] = f
	}
	return out
}

func (s *Server) deleteFormat(ctx context.Context, in *formatPath) (*struct{}, error) {
	return nil, s.formats.Delete(ctx, in.Name)
}

// formatRow is one format in the list: built-ins first in the catalog, so
// they sort last (oldest) in the newest-first list.
type formatRow struct {
	name    string
	created time.Time
	def     json.RawMessage
}

func (r *formatRow) Cursor() string { return store.EncodeCursor(r.created, r.name) }

func (r *formatRow) Size() int { return 256 + len(r.name) + len(r.def) }

// listFormats pages through the built-in and stored formats in memory:
// there are few, and the store lists them whole.
func (s *Server) listFormats(ctx context.Context, in *listInput) (*pageOutput[formatObject], error) {
	formats, err := s.formats.List(ctx)
	if err != nil {
		return nil, err
	}
	rows := make([]*formatRow, 0, len(formats))
	for _, f := range formats {
		// Cursors hold microseconds; compare at that precision.
		created := f.CreatedAt
		if !created.IsZero() {
			created = time.UnixMicro(created.UnixMicro()).UTC()
		}
		rows = append(rows, &formatRow{name: f.Name, created: created, def: f.Definition})
	}
	slices.SortFunc(rows, func(a, b *formatRow) int {
		return cmp.Or(b.created.Compare(a.created), cmp.Compare(b.name, a.name))
	})
	if in.Cursor != "" {
		at, name, err := store.DecodeCursor(in.Cursor)
		if err != nil {
			return nil, err
		}
		i := slices.IndexFunc(rows, func(r *formatRow) bool {
			c := cmp.Or(r.created.Compare(at), cmp.Compare(r.name, name))
			return c < 0
		})
		if i < 0 {
			i = len(rows)
		}
		rows = rows[i:]
	}
	if len(rows) > in.Limit+1 {
		rows = rows[:in.Limit+1]
	}
	return pageOf(rows, &store.ListParams{Limit: in.Limit, MaxBytes: s.pageBytes},
		func(r *formatRow) formatObject { return formatObject(compactJSON(r.def)) }), nil
}

func compactJSON(b []byte) []byte {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return b
	}
	return buf.Bytes()
}
