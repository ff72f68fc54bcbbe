package tenant

import (
	"context"
	"net/http"

	"caas.dev/shared/edge"
)

type createRequest struct {
	Name *string `json:"name"`
}

type createResponse struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	APIKey string `json:"api_key"`
}

// CreateHandler serves POST /v1/tenants: the platform operator, authenticated by X-Admin-Key
// against adminKey, creates a tenant and receives its API key (201, the only time it is shown).
//
// TODO: honour an Idempotency-Key header; until then a retried request creates a second tenant.
func CreateHandler(adminKey string, svc *Service) edge.HandlerFunc {
	return func(ctx context.Context, req *edge.Request) (*edge.Response, error) {
		if err := CheckAdminKey(adminKey, req.Header("X-Admin-Key")); err != nil {
			return nil, err
		}

		var body createRequest
		if err := req.Decode(&body); err != nil {
			return nil, err
		}
		if body.Name == nil {
			return nil, edge.Missing("name")
		}

		t, key, err := svc.Create(ctx, *body.Name)
		if err != nil {
			return nil, err
		}
		edge.Logger(ctx).InfoContext(ctx, "tenant created", "tenant_id", t.ID)

		resp, err := edge.JSON(http.StatusCreated, createResponse{ID: t.ID, Name: t.Name, APIKey: key})
		if err != nil {
			return nil, err
		}
		resp.Headers["Cache-Control"] = "no-store"
		return resp, nil
	}
}
