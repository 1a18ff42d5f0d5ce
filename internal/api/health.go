package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
)

type statusOutput struct {
	Body struct {
		Status string `json:"status" example:"ok"`
	}
}

type openAPIOutput struct {
	ContentType string `header:"Content-Type"`
	Body        []byte
}

func (s *Server) registerHealth() {
	register(s, huma.Operation{
		OperationID: "healthz", Method: http.MethodGet, Path: "/healthz", Tags: []string{"Operations"},
		Summary: "The process is up",
	}, scopePublic, func(ctx context.Context, _ *struct{}) (*statusOutput, error) {
		out := &statusOutput{}
		out.Body.Status = "ok"
		return out, nil
	})

	register(s, huma.Operation{
		OperationID: "readyz", Method: http.MethodGet, Path: "/readyz", Tags: []string{"Operations"},
		Summary: "The database is reachable", Errors: []int{http.StatusServiceUnavailable},
	}, scopePublic, func(ctx context.Context, _ *struct{}) (*statusOutput, error) {
		ready := s.cfg.Ready
		if ready == nil {
			ready = s.st.Ping
		}
		if err := ready(ctx); err != nil {
			reqID := requestID(ctx)
			s.log.Warn("not ready", "request_id", reqID, "error", err.Error())
			p := newProblem(http.StatusServiceUnavailable, "not ready: the database does not answer")
			p.Instance = "urn:herald:request:" + reqID
			return nil, p
		}
		out := &statusOutput{}
		out.Body.Status = "ok"
		return out, nil
	})

	register(s, huma.Operation{
		OperationID: "openapi", Method: http.MethodGet, Path: "/api/v1/openapi.json", Tags: []string{"Operations"},
		Summary: "This OpenAPI 3.1 document",
		Responses: map[string]*huma.Response{"200": {
			Description: "The OpenAPI document",
			Content:     map[string]*huma.MediaType{"application/json": {Schema: &huma.Schema{Type: huma.TypeObject}}},
		}},
	}, scopePublic, func(ctx context.Context, _ *struct{}) (*openAPIOutput, error) {
		b, err := s.OpenAPI()
		if err != nil {
			return nil, err
		}
		return &openAPIOutput{ContentType: "application/json", Body: b}, nil
	})
}
