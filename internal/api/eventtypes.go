package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/heraldhq/herald"
	eventtypesvc "github.com/heraldhq/herald/internal/eventtype"
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

// eventTypeFields are the members a PUT or a PATCH may give; a member
// left out keeps what is stored.
type eventTypeFields struct {
	Description *string         `json:"description,omitempty" maxLength:"1024" doc:"Replaces the description."`
	Schema      json.RawMessage `json:"schema,omitempty" doc:"A JSON Schema for the events' data; replaces the schema, and null removes it."`
	Archived    *bool           `json:"archived,omitempty" doc:"true archives the type (it takes no new events), false brings it back."`
}

type eventTypeWriteInput struct {
	Name string `path:"name" maxLength:"128" doc:"Event type name, dot-hierarchical: user.created, v1.case.completed."`
	Body eventTypeFields
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
		Summary:     "Create an event type, or change one",
		Description: "Answers 201 when it was created, 200 when it existed. Only the members given change: {\"archived\": true} keeps the description and the schema.",
		Responses:   map[string]*huma.Response{"201": {Description: "Created"}},
	}, scopeAdmin, s.putEventType)
	register(s, huma.Operation{
		OperationID: "update-event-type", Method: http.MethodPatch, Path: base + "/{name}", Tags: tags,
		Summary: "Change an event type", Description: "Only the members given change.", Errors: []int{http.StatusNotFound},
	}, scopeAdmin, func(ctx context.Context, in *eventTypeWriteInput) (*eventTypeOutput, error) {
		et, err := s.eventTypes.Patch(ctx, in.params())
		if err != nil {
			return nil, eventTypeFaults(err)
		}
		return &eventTypeOutput{Status: http.StatusOK, Body: eventTypeFrom(et)}, nil
	})
	register(s, huma.Operation{
		OperationID: "delete-event-type", Method: http.MethodDelete, Path: base + "/{name}", Tags: tags,
		Summary:       "Delete an event type",
		Description:   "Endpoint filters naming the type are patterns, not references: they stay, and events of the type are taken unchecked from then on.",
		DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound},
	}, scopeAdmin, func(ctx context.Context, in *eventTypePath) (*struct{}, error) {
		return nil, s.eventTypes.Delete(ctx, in.Name)
	})
	register(s, huma.Operation{
		OperationID: "list-event-types", Method: http.MethodGet, Path: base, Tags: tags,
		Summary: "List the event catalog",
	}, scopeAnyKey, func(ctx context.Context, in *listInput) (*pageOutput[eventType], error) {
		p, err := s.listParams(in.Limit, in.Cursor)
		if err != nil {
			return nil, err
		}
		rows, err := s.eventTypes.List(ctx, &p)
		if err != nil {
			return nil, err
		}
		return pageOf(rows, &p, eventTypeFrom), nil
	})
	register(s, huma.Operation{
		OperationID: "get-event-type", Method: http.MethodGet, Path: base + "/{name}", Tags: tags,
		Summary: "Get an event type", Errors: []int{http.StatusNotFound},
	}, scopeAnyKey, func(ctx context.Context, in *eventTypePath) (*eventTypeOutput, error) {
		et, err := s.eventTypes.Get(ctx, in.Name)
		if err != nil {
			return nil, err
		}
		return &eventTypeOutput{Status: http.StatusOK, Body: eventTypeFrom(et)}, nil
	})
	copyResponse(s.api.OpenAPI(), base+"/{name}", http.MethodPut, "200", "201")
}

func (s *Server) putEventType(ctx context.Context, in *eventTypeWriteInput) (*eventTypeOutput, error) {
	et, created, err := s.eventTypes.Put(ctx, in.params())
	if err != nil {
		return nil, eventTypeFaults(err)
	}
	out := &eventTypeOutput{Status: http.StatusOK, Body: eventTypeFrom(et)}
	if created {
		out.Status = http.StatusCreated
	}
	return out, nil
}

func (in *eventTypeWriteInput) params() *eventtypesvc.Params {
	return &eventtypesvc.Params{Name: in.Name, Description: in.Body.Description, Schema: in.Body.Schema, Archived: in.Body.Archived}
}

// eventTypeFaults places the event type service's field errors: the name
// is the path's, the rest is the body's.
func eventTypeFaults(err error) error {
	var ve *herald.ValidationError
	if errors.As(err, &ve) && len(ve.Fields) > 0 && ve.Fields[0].Location == "name" {
		return ve.Prefix("path")
	}
	return inBody(err)
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
