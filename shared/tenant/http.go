package tenant

import (
	"context"
	"net/http"

	"caas.dev/shared/edge"
	"caas.dev/shared/idempotency"
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
// With an Idempotency-Key header a retry never makes a second tenant: see Service.Create for
// why a repeat of a completed request answers 409 idempotent_replay_secret.
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
		retry, err := idempotency.FromHTTP(req, body)
		if err != nil {
			return nil, err
		}

		t, key, err := svc.Create(ctx, *body.Name, retry)
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
