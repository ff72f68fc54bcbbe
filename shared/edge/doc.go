// Package edge is the Lambda HTTP edge every function shares: it turns an API Gateway HTTP API
// event (payload format 2.0) into a call of a domain handler, decodes and validates request
// bodies strictly, reads the caller's identity from the authorizer context, and turns errors
// into application/problem+json responses with a stable code. It also owns structured logging:
// every line carries request_id, function and tenant_id, and never a body, token or key.
package edge
