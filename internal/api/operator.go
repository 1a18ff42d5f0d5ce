package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/heraldhq/herald/internal/store"
)

// The operator's endpoints are the endpoints of the operator's own tenant
// (store.OperatorTenant), which no tenant route reaches: the same object
// and rules as a tenant's, behind the admin key. They receive every
// tenant's failure and disabled notices (delivery.withOperator).

type operatorEndpointPath struct {
	Endpoint string `path:"endpoint" doc:"Endpoint id (ep_...)."`
}

type operatorEndpointCreateInput struct {
	Body endpointCreate
}

type operatorEndpointPatchInput struct {
	Endpoint string `path:"endpoint" doc:"Endpoint id (ep_...)."`
	Body     endpointPatch
}

type operatorEndpointListInput struct {
	Limit  int    `query:"limit" default:"50" minimum:"1" maximum:"250" doc:"Page size."`
	Cursor string `query:"cursor" maxLength:"1024" doc:"The next_cursor of the previous page."`
}

func (s *Server) registerOperator() {
	const base = "/api/v1/operator/endpoints"
	tags := []string{"Operator endpoints"}
	const about = " Operator endpoints receive every tenant's webhook.delivery_failed and webhook.endpoint_disabled notices, with tenant_id first in the data (null for a notice about an operator endpoint), in their own format."
	register(s, huma.Operation{
		OperationID: "create-operator-endpoint", Method: http.MethodPost, Path: base, Tags: tags,
		Summary: "Create an operator endpoint", DefaultStatus: http.StatusCreated, Errors: []int{http.StatusConflict},
		Description: "The same object and rules as a tenant's endpoint, under no tenant (tenant_id null); at most --max-endpoints-per-tenant of them." + about,
		Metadata:    map[string]any{metaSecretMember: "secret"},
	}, scopeAdmin, func(ctx context.Context, in *operatorEndpointCreateInput) (*endpointOutput, error) {
		return s.createEndpoint(ctx, store.OperatorTenant, &in.Body)
	})
	register(s, huma.Operation{
		OperationID: "list-operator-endpoints", Method: http.MethodGet, Path: base, Tags: tags,
		Summary: "List operator endpoints", Description: "Newest first." + about,
	}, scopeAdmin, func(ctx context.Context, in *operatorEndpointListInput) (*pageOutput[endpoint], error) {
		return s.listEndpoints(ctx, store.OperatorTenant, in.Limit, in.Cursor)
	})
	register(s, huma.Operation{
		OperationID: "get-operator-endpoint", Method: http.MethodGet, Path: base + "/{endpoint}", Tags: tags,
		Summary: "Get an operator endpoint", Errors: []int{http.StatusNotFound},
	}, scopeAdmin, func(ctx context.Context, in *operatorEndpointPath) (*endpointOutput, error) {
		return s.getEndpoint(ctx, store.OperatorTenant, in.Endpoint)
	})
	register(s, huma.Operation{
		OperationID: "update-operator-endpoint", Method: http.MethodPatch, Path: base + "/{endpoint}", Tags: tags,
		Summary: "Change an operator endpoint", Description: "Only the fields given change.", Errors: []int{http.StatusNotFound},
	}, scopeAdmin, func(ctx context.Context, in *operatorEndpointPatchInput) (*endpointOutput, error) {
		return s.updateEndpoint(ctx, store.OperatorTenant, in.Endpoint, &in.Body)
	})
	register(s, huma.Operation{
		OperationID: "delete-operator-endpoint", Method: http.MethodDelete, Path: base + "/{endpoint}", Tags: tags,
		Summary: "Delete an operator endpoint", DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound},
	}, scopeAdmin, func(ctx context.Context, in *operatorEndpointPath) (*struct{}, error) {
		return nil, s.endpoints.Delete(ctx, store.OperatorTenant, in.Endpoint)
	})
}
