package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/naming"
	"github.com/heraldhq/herald/internal/store"
)

// eventType is an entry of the event catalog as the API shows it.
type eventType struct {
	Name        string          `json:"name" example:"user.created"`
	Description string          `json:"description"`
	Schema      json.RawMessage `json:"schema,omitempty" doc:"JSON Schema (2020-12 unless $schema says otherwise) that every event's data must match."`
	Archived    bool            `json:"archived" doc:"Archived types take no new events."`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
}

func eventTypeFrom(et *store.EventType) eventType {
	return eventType{
		Name: et.Name, Description: et.Description, Schema: et.Schema, Archived: et.Archived,
		CreatedAt: et.CreatedAt.UTC(), UpdatedAt: et.UpdatedAt.UTC(),
	}
}

type eventTypePath struct {
	Name string `path:"name" maxLength:"128" doc:"Event type name, dot-hierarchical: user.created, v1.case.completed."`
}

type eventTypePutInput struct {
	Name string `path:"name" maxLength:"128" doc:"Event type name, dot-hierarchical: user.created, v1.case.completed."`
	Body struct {
		Description string          `json:"description,omitempty" maxLength:"1024"`
		Schema      json.RawMessage `json:"schema,omitempty" doc:"A JSON Schema for the events' data."`
		Archived    bool            `json:"archived,omitempty"`
	}
}

type eventTypeOutput struct {
	Status int
	Body   eventType
}

func (s *Server) registerEventTypes() {
	const base = "/api/v1/event-types"
	tags := []string{"Event types"}
	register(s, huma.Operation{
		OperationID: "put-event-type", Method: http.MethodPut, Path: base + "/{name}", Tags: tags,
		Summary: "Create or replace an event type", Description: "Answers 201 when it was created, 200 when it was replaced.",
		Responses: map[string]*huma.Response{"201": {Description: "Created"}},
	}, scopeAdmin, s.putEventType)
	register(s, huma.Operation{
		OperationID: "list-event-types", Method: http.MethodGet, Path: base, Tags: tags,
		Summary: "List the event catalog",
	}, scopeAnyKey, func(ctx context.Context, in *listInput) (*pageOutput[eventType], error) {
		p, err := listParams(in.Limit, in.Cursor)
		if err != nil {
			return nil, err
		}
		rows, err := s.st.EventTypeList(ctx, &p)
		if err != nil {
			return nil, err
		}
		return pageOf(rows, in.Limit, eventTypeFrom), nil
	})
	register(s, huma.Operation{
		OperationID: "get-event-type", Method: http.MethodGet, Path: base + "/{name}", Tags: tags,
		Summary: "Get an event type", Errors: []int{http.StatusNotFound},
	}, scopeAnyKey, func(ctx context.Context, in *eventTypePath) (*eventTypeOutput, error) {
		et, err := s.st.EventTypeGet(ctx, in.Name)
		if err != nil {
			return nil, missing(err, "event type", in.Name)
		}
		return &eventTypeOutput{Status: http.StatusOK, Body: eventTypeFrom(et)}, nil
	})
	copyResponse(s.api.OpenAPI(), base+"/{name}", http.MethodPut, "200", "201")
}

func (s *Server) putEventType(ctx context.Context, in *eventTypePutInput) (*eventTypeOutput, error) {
	if !naming.EventType(in.Name) {
		return nil, herald.Invalid("path.name", "must be an event type name: segments of A-Z a-z 0-9 _ - separated by dots, at most %d characters", naming.MaxEventTypeLen)
	}
	var fe fields
	if fe.text("body.description", in.Body.Description); fe.err() != nil {
		return nil, fe.err()
	}
	schema := bytes.TrimSpace(in.Body.Schema)
	if string(schema) == "null" {
		schema = nil
	}
	if len(schema) > 0 {
		var buf bytes.Buffer
		if err := json.Compact(&buf, schema); err != nil {
			return nil, herald.Invalid("body.schema", "is not valid JSON")
		}
		schema = buf.Bytes()
		if _, err := compileSchema(schema); err != nil {
			return nil, herald.Invalid("body.schema", "is not a valid JSON Schema: %s", err)
		}
	}
	_, err := s.st.EventTypeGet(ctx, in.Name)
	created := errors.Is(err, herald.ErrNotFound)
	if err != nil && !created {
		return nil, err
	}
	now := s.now()
	et, err := s.st.EventTypePut(ctx, &store.EventType{
		Name: in.Name, Description: in.Body.Description, Schema: schema, Archived: in.Body.Archived,
		CreatedAt: now, UpdatedAt: now,
	})
	if err != nil {
		return nil, err
	}
	out := &eventTypeOutput{Status: http.StatusOK, Body: eventTypeFrom(et)}
	if created {
		out.Status = http.StatusCreated
	}
	return out, nil
}

// copyResponse documents response to (an alternative success status) with
// the body of response from, which huma generated.
func copyResponse(doc *huma.OpenAPI, path, method, from, to string) {
	item := doc.Paths[path]
	op := map[string]*huma.Operation{
		http.MethodGet: item.Get, http.MethodPut: item.Put, http.MethodPost: item.Post,
		http.MethodPatch: item.Patch, http.MethodDelete: item.Delete,
	}[method]
	src, dst := op.Responses[from], op.Responses[to]
	if src != nil && dst != nil {
		dst.Content = src.Content
	}
}

// schemaCache keeps compiled event type schemas: compiling costs far more
// than validating, and every ingest of a typed event needs one.
type schemaCache struct {
	mu sync.Mutex
	m  map[string]cachedSchema
}

type cachedSchema struct {
	raw string
	sch *jsonschema.Schema
}

func newSchemaCache() *schemaCache { return &schemaCache{m: map[string]cachedSchema{}} }

// get returns the compiled schema of et, compiling it when it is new or
// changed since it was cached.
func (c *schemaCache) get(et *store.EventType) (*jsonschema.Schema, error) {
	c.mu.Lock()
	e, ok := c.m[et.Name]
	c.mu.Unlock()
	if ok && e.raw == string(et.Schema) {
		return e.sch, nil
	}
	sch, err := compileSchema(et.Schema)
	if err != nil {
		return nil, fmt.Errorf("stored schema of event type %s: %w", et.Name, err)
	}
	c.mu.Lock()
	c.m[et.Name] = cachedSchema{raw: string(et.Schema), sch: sch}
	c.mu.Unlock()
	return sch, nil
}

// schemaURL names the schema being compiled; nothing is fetched from it.
const schemaURL = "https://herald.invalid/event-type.schema.json"

// compileSchema compiles a JSON Schema that may refer only to itself and
// the standard meta-schemas: the default loader would read local files
// named by "$ref", and a remote one would make the server fetch URLs.
func compileSchema(raw []byte) (sch *jsonschema.Schema, err error) {
	defer func() {
		// A schema is untrusted input; a library panic on some corner of it
		// must be the client's 422, not a crash.
		if r := recover(); r != nil {
			sch, err = nil, fmt.Errorf("cannot be compiled (%v)", r)
		}
	}()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	switch doc.(type) {
	case map[string]any, bool:
	default:
		return nil, errors.New("a schema must be a JSON object or a boolean")
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(noLoader{})
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, err
	}
	return c.Compile(schemaURL)
}

type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("%s: only references within the schema are allowed", url)
}

// validateData checks canonical event data against sch. Each failing value
// is one field error at its place in the body ("body.data.amount").
func validateData(sch *jsonschema.Schema, data []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("decode canonical data: %w", err)
	}
	err = sch.Validate(v)
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	printer := message.NewPrinter(language.English) // not safe to share between requests
	var fe fields
	for _, leaf := range leaves(ve, nil) {
		fe.add(instancePath(v, leaf.InstanceLocation), "%s", leaf.ErrorKind.LocalizedString(printer))
	}
	if len(fe) == 0 {
		fe.add("body.data", "does not match the event type's schema")
	}
	sort.SliceStable(fe, func(i, j int) bool { return fe[i].Location < fe[j].Location })
	return fe.err()
}

// leaves are the most specific causes of a validation error.
func leaves(e *jsonschema.ValidationError, out []*jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(e.Causes) == 0 {
		return append(out, e)
	}
	for _, c := range e.Causes {
		out = leaves(c, out)
	}
	return out
}

// instancePath writes a JSON pointer's tokens as a body location, with
// array indexes in brackets: body.data.items[3].price.
func instancePath(v any, tokens []string) string {
	var b strings.Builder
	b.WriteString("body.data")
	for _, t := range tokens {
		switch cur := v.(type) {
		case []any:
			b.WriteString("[" + t + "]")
			if i, err := strconv.Atoi(t); err == nil && i >= 0 && i < len(cur) {
				v = cur[i]
			}
		case map[string]any:
			b.WriteString("." + t)
			v = cur[t]
		default:
			b.WriteString("." + t)
		}
	}
	return b.String()
}
