package edge

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"caas.dev/shared/fault"
)

// MaxBodyBytes is the largest request body a function accepts; larger bodies get 413.
const MaxBodyBytes = 64 << 10

// Failures of request decoding. Their codes are part of the API contract.
var (
	ErrMalformedJSON = fault.New(fault.Invalid, "malformed_json", "the request body is not valid JSON")
	ErrInvalidUTF8   = fault.New(fault.Invalid, "invalid_utf8", "the request body is not valid UTF-8")
	ErrUnknownField  = fault.New(fault.Invalid, "unknown_field", "the request body has a field this endpoint does not accept")
	ErrWrongType     = fault.New(fault.Invalid, "wrong_type", "a field of the request body has the wrong type")
	ErrEmptyBody     = fault.New(fault.Invalid, "empty_body", "the request needs a JSON body")
	ErrBodyTooLarge  = fault.New(fault.TooLarge, "body_too_large", fmt.Sprintf("the request body is over %d bytes", MaxBodyBytes))
	ErrMissingField  = fault.New(fault.Invalid, "missing_field", "a required field is missing")
	ErrInvalidField  = fault.New(fault.Invalid, "invalid_field", "a field has an invalid value")
	ErrInvalidQuery  = fault.New(fault.Invalid, "invalid_query", "a query parameter has an invalid value")
)

// Request is one HTTP API request as API Gateway delivers it (payload format 2.0).
type Request struct {
	events.APIGatewayV2HTTPRequest
}

// RequestID returns API Gateway's id for the request.
func (r *Request) RequestID() string { return r.RequestContext.RequestID }

// Header returns the value of the named header, matched without regard to case. API Gateway
// lower-cases header names, but a hand-written event may not.
func (r *Request) Header(name string) string {
	if v, ok := r.Headers[strings.ToLower(name)]; ok {
		return v
	}
	for k, v := range r.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// PathParam returns the named path parameter.
func (r *Request) PathParam(name string) string { return r.PathParameters[name] }

// Query returns the named query string parameter.
func (r *Request) Query(name string) string { return r.QueryStringParameters[name] }

// QueryInt returns the named query parameter as an integer in [min, max], or def when absent.
func (r *Request) QueryInt(name string, def, min, max int) (int, error) {
	s := r.Query(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < min || n > max {
		return 0, fault.WithDetail(ErrInvalidQuery, fmt.Sprintf("%s: must be an integer from %d to %d", name, min, max))
	}
	return n, nil
}

// SourceIP returns the client address API Gateway saw. Client-supplied headers such as
// X-Forwarded-For are never consulted.
func (r *Request) SourceIP() string { return r.RequestContext.HTTP.SourceIP }

// UserAgent returns the client's user agent as API Gateway reported it.
func (r *Request) UserAgent() string { return r.RequestContext.HTTP.UserAgent }

// RawBody returns the body bytes, decoding base64 when API Gateway encoded them.
func (r *Request) RawBody() ([]byte, error) {
	if !r.IsBase64Encoded {
		return []byte(r.Body), nil
	}
	b, err := base64.StdEncoding.DecodeString(r.Body)
	if err != nil {
		return nil, fault.WithDetail(ErrMalformedJSON, "the request body is not valid base64")
	}
	return b, nil
}

// Decode reads the JSON body into v strictly: the body must be present, at most MaxBodyBytes,
// valid UTF-8, one JSON value, with no field v does not declare and every field of the right
// type. The error is a *fault.Error naming the offending field where one is known.
func (r *Request) Decode(v any) error {
	b, err := r.RawBody()
	if err != nil {
		return err
	}
	return DecodeJSON(b, v)
}

// DecodeJSON applies Decode's rules to b.
func DecodeJSON(b []byte, v any) error { return DecodeJSONLimit(b, v, MaxBodyBytes, ErrBodyTooLarge) }

// DecodeLimit is Decode for an endpoint whose bodies may be larger than MaxBodyBytes: a body
// over max fails with tooLarge.
func (r *Request) DecodeLimit(v any, max int, tooLarge error) error {
	b, err := r.RawBody()
	if err != nil {
		return err
	}
	return DecodeJSONLimit(b, v, max, tooLarge)
}

// DecodeJSONLimit applies Decode's rules to b with max bytes as the size limit.
func DecodeJSONLimit(b []byte, v any, max int, tooLarge error) error {
	if len(b) > max {
		return tooLarge
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return ErrEmptyBody
	}
	if !utf8.Valid(b) {
		return ErrInvalidUTF8
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fault.WithDetail(ErrMalformedJSON, "the request body holds more than one JSON value")
	}
	return nil
}

func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return fault.WithDetail(ErrWrongType, "the request body must be a JSON object")
		}
		return fault.WithDetail(ErrWrongType, fmt.Sprintf("%s: must be %s", field, jsonKind(typeErr.Type.Kind().String())))
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return ErrMalformedJSON
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return fault.WithDetail(ErrUnknownField, "unknown field "+name)
	default:
		return ErrMalformedJSON
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer in range"
	default:
		return "a number"
	}
}

// Missing returns the error for a required field that is absent or empty.
func Missing(field string) error {
	return fault.WithDetail(ErrMissingField, field+": is required")
}

// Invalid returns the error for a field whose value breaks a rule, with a reason a client can act on.
func Invalid(field, reason string) error {
	return fault.WithDetail(ErrInvalidField, field+": "+reason)
}
