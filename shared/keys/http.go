package keys

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"

	"caas.dev/shared/edge"
	"caas.dev/shared/fault"
)

// Limits and defaults of the HTTP API.
const (
	// DefaultListLimit and MaxListLimit bound a page of GET /v1/keys.
	DefaultListLimit = 50
	MaxListLimit     = 100
	// MaxCryptoBody is the largest body the encrypt, decrypt and rewrap endpoints accept: AWS
	// Lambda's 6 MB limit on a synchronous invocation's payload, which bounds the request (and
	// the response) whatever the key service would allow. A single MaxPlaintext plaintext fits,
	// base64-encoded, in one request; a batch's items together must fit in it too.
	MaxCryptoBody = 6 << 20
	// keyType names the algorithm of every key.
	keyType = "aes256-gcm96"
	// timeFormat is how the API writes instants: RFC 3339, UTC, milliseconds.
	timeFormat = "2006-01-02T15:04:05.000Z07:00"
	// maxPeriodSeconds is the largest rotation period a request may name, in seconds, so that
	// it fits a time.Duration.
	maxPeriodSeconds = math.MaxInt64 / int64(time.Second)
)

// Failures of the HTTP API. Their codes are part of the API contract.
var (
	ErrInvalidPlaintext = fault.New(fault.Invalid, "invalid_plaintext",
		"plaintext must be standard base64 (RFC 4648, padded)")
	ErrInvalidCursor   = fault.New(fault.Invalid, "invalid_cursor", "the cursor is not valid")
	errCryptoBodyLarge = fault.New(fault.TooLarge, "body_too_large",
		fmt.Sprintf("the request body is over %d bytes", MaxCryptoBody))
)

// Handlers are the HTTP endpoints of the key service, one per function. Every endpoint accepts
// any verified caller, a user or the tenant's API key; the service decides by the caller's role.
type Handlers struct {
	svc *Service
}

// NewHandlers returns the endpoints over svc.
func NewHandlers(svc *Service) *Handlers { return &Handlers{svc: svc} }

// callerOf returns the key-service caller of the request.
func callerOf(ctx context.Context) (Caller, error) {
	id, err := edge.RequireCaller(ctx)
	if err != nil {
		return Caller{}, err
	}
	return Caller{TenantID: id.TenantID, Role: id.Role}, nil
}

// versionJSON is a key version as the API shows it: never its material.
type versionJSON struct {
	Version   int    `json:"version"`
	CreatedAt string `json:"created_at"`
}

// keyJSON is a key as the API shows it. It has no field for wrapped data keys or what wraps
// them: those never leave the service.
type keyJSON struct {
	Name                 string        `json:"name"`
	Type                 string        `json:"type"`
	Versions             []versionJSON `json:"versions"`
	PrimaryVersion       int           `json:"primary_version"`
	MinDecryptionVersion int           `json:"min_decryption_version"`
	RotationPeriod       int64         `json:"rotation_period"`
	NextRotationAt       *string       `json:"next_rotation_at"`
	EncryptRoles         []string      `json:"encrypt_roles"`
	DecryptRoles         []string      `json:"decrypt_roles"`
	CreatedAt            string        `json:"created_at"`
	UpdatedAt            string        `json:"updated_at"`
	ShreddedAt           *string       `json:"shredded_at"`
}

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

// optionalTime is the API's form of an instant that may be unset: null when zero.
func optionalTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := formatTime(t)
	return &s
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func toKeyJSON(k Key) keyJSON {
	out := keyJSON{
		Name:                 k.Name,
		Type:                 keyType,
		Versions:             make([]versionJSON, len(k.Versions)),
		PrimaryVersion:       k.Primary(),
		MinDecryptionVersion: k.MinDecryptionVersion,
		RotationPeriod:       int64(k.RotationPeriod / time.Second),
		NextRotationAt:       optionalTime(k.NextRotation()),
		EncryptRoles:         nonNil(k.EncryptRoles),
		DecryptRoles:         nonNil(k.DecryptRoles),
		CreatedAt:            formatTime(k.CreatedAt),
		UpdatedAt:            formatTime(k.UpdatedAt),
		ShreddedAt:           optionalTime(k.ShreddedAt),
	}
	for i, v := range k.Versions {
		out.Versions[i] = versionJSON{Version: v.Version, CreatedAt: formatTime(v.CreatedAt)}
	}
	return out
}

// periodOf turns a rotation period in seconds into a Duration.
func periodOf(seconds int64) (time.Duration, error) {
	if seconds < 0 || seconds > maxPeriodSeconds {
		return 0, fault.WithDetail(ErrInvalidPolicy, "rotation_period: 0 (never) or whole seconds of at least 3600")
	}
	return time.Duration(seconds) * time.Second, nil
}

// withPolicyDetail shows the client why a policy was refused: the service wraps
// ErrInvalidPolicy with a reason that names only fields and numbers.
func withPolicyDetail(err error) error {
	if err == nil || !errors.Is(err, ErrInvalidPolicy) || fault.As(err) == nil {
		return err
	}
	prefix := ErrInvalidPolicy.Error() + ": "
	var reasons []string
	for _, line := range strings.Split(err.Error(), "\n") {
		if reason, ok := strings.CutPrefix(line, prefix); ok {
			reasons = append(reasons, reason)
		}
	}
	if len(reasons) == 0 {
		return err
	}
	return fault.WithDetail(ErrInvalidPolicy, strings.Join(reasons, "; "))
}

type createKeyRequest struct {
	Name           string   `json:"name"`
	RotationPeriod int64    `json:"rotation_period"`
	EncryptRoles   []string `json:"encrypt_roles"`
	DecryptRoles   []string `json:"decrypt_roles"`
}

// CreateKey serves POST /v1/keys. A retry of a create that succeeded gets 409 key_exists.
func (h *Handlers) CreateKey(ctx context.Context, req *edge.Request) (*edge.Response, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	var in createKeyRequest
	if err := req.Decode(&in); err != nil {
		return nil, err
	}
	if in.Name == "" {
		return nil, edge.Missing("name")
	}
	period, err := periodOf(in.RotationPeriod)
	if err != nil {
		return nil, err
	}
	k, err := h.svc.CreateKey(ctx, c, NewKey{
		Name:           in.Name,
		RotationPeriod: period,
		EncryptRoles:   in.EncryptRoles,
		DecryptRoles:   in.DecryptRoles,
	})
	if err != nil {
		return nil, withPolicyDetail(err)
	}
	edge.Logger(ctx).InfoContext(ctx, "key created", "key", k.Name)
	return edge.JSON(http.StatusCreated, toKeyJSON(k))
}

// keyPageJSON is a page of GET /v1/keys.
type keyPageJSON struct {
	Items      []keyJSON `json:"items"`
	NextCursor string    `json:"next_cursor"`
}

// listCursor continues a list of keys after the key named After. Like every cursor of the API
// it is opaque to clients (base64url of a small JSON document) and unsigned: it grants nothing,
// the query it feeds is still scoped to the caller's tenant.
type listCursor struct {
	After string `json:"a"`
}

func encodeListCursor(after string) string {
	b, _ := json.Marshal(listCursor{After: after}) // a struct of one string always marshals
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeListCursor(s string) (string, error) {
	raw, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return "", ErrInvalidCursor
	}
	var c listCursor
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || !ValidName(c.After) {
		return "", ErrInvalidCursor
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return "", ErrInvalidCursor
	}
	return c.After, nil
}

// ListKeys serves GET /v1/keys?limit=&cursor=: the tenant's keys by name, users' own keys
// left out.
func (h *Handlers) ListKeys(ctx context.Context, req *edge.Request) (*edge.Response, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	limit, err := req.QueryInt("limit", DefaultListLimit, 1, MaxListLimit)
	if err != nil {
		return nil, err
	}
	after := ""
	if s := req.Query("cursor"); s != "" {
		if after, err = decodeListCursor(s); err != nil {
			return nil, err
		}
	}
	ks, more, err := h.svc.ListKeys(ctx, c, after, limit)
	if err != nil {
		return nil, err
	}
	out := keyPageJSON{Items: make([]keyJSON, len(ks))}
	for i, k := range ks {
		out.Items[i] = toKeyJSON(k)
	}
	if more && len(ks) > 0 {
		out.NextCursor = encodeListCursor(ks[len(ks)-1].Name)
	}
	return edge.JSON(http.StatusOK, out)
}

// pathName returns the key name of the path, refusing a malformed one before any lookup.
func pathName(req *edge.Request) (string, error) {
	name := req.PathParam("name")
	if !ValidName(name) {
		return "", ErrInvalidName
	}
	return name, nil
}

// keyRequest returns the caller and the key name of a request on /v1/keys/{name}.
func keyRequest(ctx context.Context, req *edge.Request) (Caller, string, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return Caller{}, "", err
	}
	name, err := pathName(req)
	if err != nil {
		return Caller{}, "", err
	}
	return c, name, nil
}

// GetKey serves GET /v1/keys/{name}.
func (h *Handlers) GetKey(ctx context.Context, req *edge.Request) (*edge.Response, error) {
	c, name, err := keyRequest(ctx, req)
	if err != nil {
		return nil, err
	}
	k, err := h.svc.GetKey(ctx, c, name)
	if err != nil {
		return nil, err
	}
	return edge.JSON(http.StatusOK, toKeyJSON(k))
}

type updateKeyRequest struct {
	MinDecryptionVersion *int     `json:"min_decryption_version"`
	RotationPeriod       *int64   `json:"rotation_period"`
	EncryptRoles         []string `json:"encrypt_roles"`
	DecryptRoles         []string `json:"decrypt_roles"`
}

// UpdateKey serves PATCH /v1/keys/{name}: the fields present replace the policy's, the others
// stay.
func (h *Handlers) UpdateKey(ctx context.Context, req *edge.Request) (*edge.Response, error) {
	c, name, err := keyRequest(ctx, req)
	if err != nil {
		return nil, err
	}
	var in updateKeyRequest
	if err := req.Decode(&in); err != nil {
		return nil, err
	}
	ch := PolicyChange{
		MinDecryptionVersion: in.MinDecryptionVersion,
		EncryptRoles:         in.EncryptRoles,
		DecryptRoles:         in.DecryptRoles,
	}
	if in.RotationPeriod != nil {
		p, err := periodOf(*in.RotationPeriod)
		if err != nil {
			return nil, err
		}
		ch.RotationPeriod = &p
	}
	k, err := h.svc.UpdatePolicy(ctx, c, name, ch)
	if err != nil {
		return nil, withPolicyDetail(err)
	}
	edge.Logger(ctx).InfoContext(ctx, "key policy changed", "key", k.Name,
		"min_decryption_version", k.MinDecryptionVersion,
		"rotation_period_s", int64(k.RotationPeriod/time.Second))
	return edge.JSON(http.StatusOK, toKeyJSON(k))
}

// RotateKey serves POST /v1/keys/{name}/rotate. It takes no body.
func (h *Handlers) RotateKey(ctx context.Context, req *edge.Request) (*edge.Response, error) {
	c, name, err := keyRequest(ctx, req)
	if err != nil {
		return nil, err
	}
	k, err := h.svc.RotateKey(ctx, c, name)
	if err != nil {
		return nil, err
	}
	edge.Logger(ctx).InfoContext(ctx, "key rotated", "key", k.Name, "primary_version", k.Primary())
	return edge.JSON(http.StatusOK, toKeyJSON(k))
}

// decodeCrypto reads a crypto endpoint's body by edge.Decode's rules, but with MaxCryptoBody
// as the limit: plaintexts are far larger than the bodies of other endpoints.
func decodeCrypto(req *edge.Request, v any) error {
	return req.DecodeLimit(v, MaxCryptoBody, errCryptoBodyLarge)
}

// itemErrorJSON is a failed batch item: the problem the item would have had as a request.
type itemErrorJSON struct {
	Code   string `json:"code"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// itemError returns the problem of a failed batch item. Internal causes are logged (they name
// keys and versions, never data) and hidden from the client, as for a whole request.
func itemError(ctx context.Context, i int, err error) *itemErrorJSON {
	fe := fault.As(err)
	if fe == nil || fe.Kind == fault.Internal || fe.Kind == fault.Unavailable {
		edge.Logger(ctx).ErrorContext(ctx, "batch item failed", "item", i, "error", err.Error())
	}
	var p edge.Problem
	if jerr := json.Unmarshal([]byte(edge.ProblemFor(err, "").Body), &p); jerr != nil {
		status := http.StatusInternalServerError
		return &itemErrorJSON{Code: "internal", Title: http.StatusText(status), Status: status}
	}
	return &itemErrorJSON{Code: p.Code, Title: p.Title, Status: p.Status, Detail: p.Detail}
}

// checkBatch refuses a batch with no items or more than MaxBatch.
func checkBatch(n int) error {
	if n > MaxBatch {
		return ErrBatchTooLarge
	}
	if n == 0 {
		return edge.Invalid("items", "must hold at least one item")
	}
	return nil
}

// decodePlaintext decodes an item's base64 plaintext.
func decodePlaintext(s string) ([]byte, error) {
	if base64.StdEncoding.DecodedLen(len(s)) > MaxPlaintext+3 {
		return nil, ErrTooLarge
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, ErrInvalidPlaintext
	}
	return b, nil
}

type encryptItem struct {
	Plaintext *string `json:"plaintext"`
	Context   string  `json:"context"`
}

type encryptRequest struct {
	Key       string         `json:"key"`
	Plaintext *string        `json:"plaintext"`
	Context   string         `json:"context"`
	Items     *[]encryptItem `json:"items"`
}

// sealedJSON is the answer for one encrypted or rewrapped item, or its error.
type sealedJSON struct {
	Ciphertext string         `json:"ciphertext,omitempty"`
	KeyVersion int            `json:"key_version,omitempty"`
	Error      *itemErrorJSON `json:"error,omitempty"`
}

// keyLevel reports whether err concerns the key rather than one item: in a batch on one key,
// every item would fail the same way, so the request fails as a whole.
func keyLevel(err error) bool {
	for _, e := range []error{
		ErrKeyNotFound, ErrKeyShredded, ErrForbidden, ErrReservedKey, ErrInvalidName, ErrNotAdmin,
	} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Encrypt serves POST /v1/crypto/encrypt: {"key", "plaintext", "context"?} seals one
// plaintext; {"key", "items": [...]} seals each item on its own, answering its ciphertext or
// its error in the same position. A failure that concerns the key itself (no such key, a role
// that may not encrypt with it) fails the whole request.
func (h *Handlers) Encrypt(ctx context.Context, req *edge.Request) (*edge.Response, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	var in encryptRequest
	if err := decodeCrypto(req, &in); err != nil {
		return nil, err
	}
	if in.Key == "" {
		return nil, edge.Missing("key")
	}
	if !ValidName(in.Key) {
		return nil, ErrInvalidName
	}
	one := func(pt *string, context string) (string, int, error) {
		if pt == nil {
			return "", 0, edge.Missing("plaintext")
		}
		b, err := decodePlaintext(*pt)
		if err != nil {
			return "", 0, err
		}
		return h.svc.EncryptAs(ctx, c, in.Key, b, []byte(context))
	}
	switch {
	case in.Items == nil && in.Plaintext == nil:
		return nil, edge.Missing("plaintext")
	case in.Items != nil && (in.Plaintext != nil || in.Context != ""):
		return nil, edge.Invalid("items", "give either plaintext (and context) or items, not both")
	case in.Items == nil:
		ct, v, err := one(in.Plaintext, in.Context)
		if err != nil {
			return nil, err
		}
		return edge.JSON(http.StatusOK, sealedJSON{Ciphertext: ct, KeyVersion: v})
	}
	items := *in.Items
	if err := checkBatch(len(items)); err != nil {
		return nil, err
	}
	out := make([]sealedJSON, len(items))
	for i, it := range items {
		ct, v, err := one(it.Plaintext, it.Context)
		if keyLevel(err) {
			return nil, err
		}
		if err != nil {
			out[i].Error = itemError(ctx, i, err)
			continue
		}
		out[i] = sealedJSON{Ciphertext: ct, KeyVersion: v}
	}
	return edge.JSON(http.StatusOK, map[string][]sealedJSON{"items": out})
}

type ciphertextItem struct {
	Ciphertext string `json:"ciphertext"`
	Context    string `json:"context"`
}

type ciphertextRequest struct {
	Ciphertext *string           `json:"ciphertext"`
	Context    string            `json:"context"`
	Items      *[]ciphertextItem `json:"items"`
}

// batchOrOne splits a decrypt or rewrap request into its items, and says whether it was the
// batch form.
func batchOrOne(in ciphertextRequest) ([]ciphertextItem, bool, error) {
	switch {
	case in.Items == nil && in.Ciphertext == nil:
		return nil, false, edge.Missing("ciphertext")
	case in.Items != nil && (in.Ciphertext != nil || in.Context != ""):
		return nil, false, edge.Invalid("items", "give either ciphertext (and context) or items, not both")
	case in.Items == nil:
		return []ciphertextItem{{Ciphertext: *in.Ciphertext, Context: in.Context}}, false, nil
	}
	if err := checkBatch(len(*in.Items)); err != nil {
		return nil, false, err
	}
	return *in.Items, true, nil
}

// openedJSON is the answer for one decrypted item, or its error.
type openedJSON struct {
	Plaintext  *string        `json:"plaintext,omitempty"`
	Key        string         `json:"key,omitempty"`
	KeyVersion int            `json:"key_version,omitempty"`
	Error      *itemErrorJSON `json:"error,omitempty"`
}

// Decrypt serves POST /v1/crypto/decrypt: {"ciphertext", "context"?} opens one ciphertext;
// {"items": [...]} opens each on its own, answering its plaintext or its error in the same
// position.
func (h *Handlers) Decrypt(ctx context.Context, req *edge.Request) (*edge.Response, error) {
	return perCiphertext(ctx, req, func(c Caller, it ciphertextItem) (openedJSON, error) {
		pt, hd, err := h.svc.DecryptAs(ctx, c, it.Ciphertext, []byte(it.Context))
		if err != nil {
			return openedJSON{}, err
		}
		s := base64.StdEncoding.EncodeToString(pt)
		clear(pt)
		return openedJSON{Plaintext: &s, Key: hd.Name, KeyVersion: hd.Version}, nil
	}, func(e *itemErrorJSON) openedJSON { return openedJSON{Error: e} })
}

// Rewrap serves POST /v1/crypto/rewrap: {"ciphertext", "context"?} seals a ciphertext again
// under its key's primary version without the plaintext leaving the service; {"items": [...]}
// does so for each on its own. A ciphertext of the primary version comes back unchanged.
func (h *Handlers) Rewrap(ctx context.Context, req *edge.Request) (*edge.Response, error) {
	return perCiphertext(ctx, req, func(c Caller, it ciphertextItem) (sealedJSON, error) {
		ct, v, err := h.svc.RewrapAs(ctx, c, it.Ciphertext, []byte(it.Context))
		if err != nil {
			return sealedJSON{}, err
		}
		return sealedJSON{Ciphertext: ct, KeyVersion: v}, nil
	}, func(e *itemErrorJSON) sealedJSON { return sealedJSON{Error: e} })
}

// perCiphertext serves a decrypt or rewrap request: it runs op on each ciphertext and answers
// in the form asked, the one answer (or its error as the request's), or {"items": [...]} with
// each item's answer, or its error made by failed, in its place.
func perCiphertext[T any](ctx context.Context, req *edge.Request, op func(Caller, ciphertextItem) (T, error),
	failed func(*itemErrorJSON) T,
) (*edge.Response, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	var in ciphertextRequest
	if err := decodeCrypto(req, &in); err != nil {
		return nil, err
	}
	items, batch, err := batchOrOne(in)
	if err != nil {
		return nil, err
	}
	out := make([]T, len(items))
	for i, it := range items {
		var v T
		if it.Ciphertext == "" {
			err = edge.Missing("ciphertext")
		} else {
			v, err = op(c, it)
		}
		if err == nil {
			out[i] = v
			continue
		}
		if !batch {
			return nil, err
		}
		out[i] = failed(itemError(ctx, i, err))
	}
	if !batch {
		return edge.JSON(http.StatusOK, out[0])
	}
	return edge.JSON(http.StatusOK, map[string][]T{"items": out})
}
