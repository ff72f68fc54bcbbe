package apigw

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The errors a caller can act on. Other failures are wrapped *StatusError or transport errors.
var (
	// ErrGone matches the error for a connection that no longer exists (410 GoneException).
	ErrGone = errors.New("connection is gone")
	// ErrThrottled matches the error for a call still throttled (429) after the retries.
	ErrThrottled = errors.New("throttled by the management API")
	// ErrPayloadTooLarge matches the error for data over 128 KB (413).
	ErrPayloadTooLarge = errors.New("payload too large")
)

// StatusError is an answer of the management API other than the ones with a sentinel above.
type StatusError struct {
	Status int
	Type   string // x-amzn-errortype, such as ForbiddenException
	// Message is the service's own message, never a payload.
	Message string
}

func (e *StatusError) Error() string {
	if e.Type != "" {
		return fmt.Sprintf("management API answered %d %s: %s", e.Status, e.Type, e.Message)
	}
	return fmt.Sprintf("management API answered %d: %s", e.Status, e.Message)
}

const (
	retryBase = 50 * time.Millisecond
	retryCap  = time.Second
	// maxResponseBytes bounds what is read of an answer: GET's document or an error message.
	maxResponseBytes = 64 << 10
)

// do sends one call, retrying throttled attempts with exponential backoff and full jitter, and
// returns the answer's body.
func (c *Client) do(ctx context.Context, method, connectionID string, body []byte) ([]byte, error) {
	if connectionID == "" {
		return nil, errors.New("empty connection id")
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	target := c.base.JoinPath("@connections", connectionID)

	for attempt := 0; ; attempt++ {
		resp, err := c.attempt(ctx, method, target, body)
		if err == nil || !errors.Is(err, ErrThrottled) || attempt >= c.maxRetries {
			return resp, err
		}
		backoff := min(retryCap, retryBase<<attempt)
		if err := c.sleep(ctx, rand.N(backoff)+time.Millisecond); err != nil {
			return nil, fmt.Errorf("%w (gave up waiting to retry: %v)", ErrThrottled, err)
		}
	}
}

func (c *Client) attempt(ctx context.Context, method string, target *url.URL, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, target.String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	if body == nil {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	if err := c.sign(ctx, req, body); err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("send request: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode/100 == 2 {
		return data, nil
	}
	return nil, statusError(resp, data)
}

func (c *Client) sign(ctx context.Context, req *http.Request, body []byte) error {
	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("retrieve credentials: %w", err)
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", hash)
	if err := c.signer.SignHTTP(ctx, creds, req, hash, signingService, c.region, time.Now().UTC()); err != nil {
		return fmt.Errorf("sign request: %w", err)
	}
	return nil
}

func statusError(resp *http.Response, data []byte) error {
	var doc struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(data, &doc) // a body that is not the service's JSON leaves Message empty
	typ, _, _ := strings.Cut(resp.Header.Get("X-Amzn-Errortype"), ":")
	se := &StatusError{Status: resp.StatusCode, Type: typ, Message: doc.Message}
	switch resp.StatusCode {
	case http.StatusGone:
		return fmt.Errorf("%w: %v", ErrGone, se)
	case http.StatusTooManyRequests:
		return fmt.Errorf("%w: %v", ErrThrottled, se)
	case http.StatusRequestEntityTooLarge:
		return fmt.Errorf("%w: %v", ErrPayloadTooLarge, se)
	}
	return se
}

// connectionDoc is GetConnection's answer as API Gateway writes it.
type connectionDoc struct {
	ConnectedAt  time.Time `json:"connectedAt"`
	LastActiveAt time.Time `json:"lastActiveAt"`
	Identity     struct {
		SourceIP  string `json:"sourceIp"`
		UserAgent string `json:"userAgent"`
	} `json:"identity"`
}

func decodeConnection(data []byte) (Connection, error) {
	var doc connectionDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return Connection{}, fmt.Errorf("decode answer: %w", err)
	}
	return Connection{
		ConnectedAt: doc.ConnectedAt, LastActiveAt: doc.LastActiveAt,
		SourceIP: doc.Identity.SourceIP, UserAgent: doc.Identity.UserAgent,
	}, nil
}
