package edge

import (
	"encoding/json"
	"net/http"
	"strconv"

	"caas.dev/shared/fault"
)

// Problem is an RFC 9457 problem details document, extended with a stable machine code and the
// request id that ties it to the logs.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	Code      string `json:"code"`
	RequestID string `json:"request_id,omitempty"`
}

// ProblemContentType is the media type of every error response.
const ProblemContentType = "application/problem+json"

// problemTypeBase prefixes the code to form the problem type URI.
const problemTypeBase = "https://caas.dev/problems/"

// statusOf is the one table that maps a failure kind to an HTTP status.
var statusOf = map[fault.Kind]int{
	fault.Internal:         http.StatusInternalServerError,
	fault.Invalid:          http.StatusBadRequest,
	fault.Unauthorized:     http.StatusUnauthorized,
	fault.Forbidden:        http.StatusForbidden,
	fault.NotFound:         http.StatusNotFound,
	fault.MethodNotAllowed: http.StatusMethodNotAllowed,
	fault.Conflict:         http.StatusConflict,
	fault.TooLarge:         http.StatusRequestEntityTooLarge,
	fault.RateLimited:      http.StatusTooManyRequests,
	fault.Unavailable:      http.StatusServiceUnavailable,
	fault.Unprocessable:    http.StatusUnprocessableEntity,
}

// internalProblem is what a client sees for any error that is not a *fault.Error.
var internalProblem = fault.New(fault.Internal, "internal", "the server could not complete the request")

// ProblemFor builds the problem document and the response for err. Errors that are not a
// *fault.Error become a generic internal problem: their text never leaves the function.
func ProblemFor(err error, requestID string) *Response {
	fe := fault.As(err)
	if fe == nil {
		fe = internalProblem
	}
	status, ok := statusOf[fe.Kind]
	if !ok {
		status = http.StatusInternalServerError
	}
	p := Problem{
		Type:      problemTypeBase + fe.Code,
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    fe.Detail,
		Code:      fe.Code,
		RequestID: requestID,
	}
	body, _ := json.Marshal(p)
	resp := &Response{
		StatusCode: status,
		Headers:    map[string]string{"Content-Type": ProblemContentType},
		Body:       string(body),
	}
	if fe.RetryAfter > 0 {
		resp.Headers["Retry-After"] = strconv.Itoa(fe.RetryAfter)
	}
	return resp
}
