// Package apigw is the API Gateway management API client the functions use to push to WebSocket
// connections: PostToConnection, GetConnection and DeleteConnection on
// {endpoint}/@connections/{connectionId}, signed with SigV4 (service execute-api). The same
// client talks to API Gateway on AWS and to the local runtime, whose management API accepts
// signed requests without checking the signature.
//
// The aws-sdk-go-v2 apigatewaymanagementapi module is not used: this thin client needs only the
// SDK's core (config, credentials, the SigV4 signer) and keeps the error mapping the platform
// wants (ErrGone, ErrThrottled, ErrPayloadTooLarge) in one place.
package apigw

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// MaxPayloadBytes is API Gateway's limit on one WebSocket message, and so on a post.
const MaxPayloadBytes = 128 << 10

const (
	defaultTimeout    = 5 * time.Second
	defaultMaxRetries = 3
	signingService    = "execute-api"
	defaultRegion     = "us-east-1"
)

// sharedHTTP is one keep-alive pool for every Client of the process: a Lambda instance reuses
// its connections to the management API across invocations.
var sharedHTTP = &http.Client{Transport: &http.Transport{
	Proxy:               http.ProxyFromEnvironment,
	DialContext:         (&net.Dialer{Timeout: 3 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	MaxIdleConns:        256,
	MaxIdleConnsPerHost: 64,
	IdleConnTimeout:     90 * time.Second,
	TLSHandshakeTimeout: 5 * time.Second,
	ForceAttemptHTTP2:   true,
}}

// Options configures a Client. Zero fields take the defaults documented on each.
type Options struct {
	// Region signs the requests; by default the region in the endpoint's host, else the SDK
	// configuration's, else us-east-1.
	Region string
	// Credentials sign the requests; by default the SDK's credential chain, with static dummy
	// credentials when the chain finds none (the local runtime does not check signatures).
	Credentials aws.CredentialsProvider
	// Timeout bounds each call, retries included; 5 seconds by default.
	Timeout time.Duration
	// MaxRetries bounds the retries of a throttled call; 3 by default, negative for none.
	MaxRetries int
	// HTTPClient sends the requests; by default one shared keep-alive client.
	HTTPClient *http.Client
	// Getenv reads the environment; os.Getenv by default.
	Getenv func(string) string
}

// Client calls the management API of one WebSocket API stage. It is safe for concurrent use.
type Client struct {
	base       *url.URL
	region     string
	creds      aws.CredentialsProvider
	signer     *v4.Signer
	http       *http.Client
	timeout    time.Duration
	maxRetries int
	sleep      func(ctx context.Context, d time.Duration) error
}

// Connection is what GetConnection reports about a connection.
type Connection struct {
	ConnectedAt  time.Time
	LastActiveAt time.Time
	SourceIP     string
	UserAgent    string
}

// New returns a client for endpoint, the stage's management URL: on AWS
// https://{apiId}.execute-api.{region}.amazonaws.com/{stage}, locally what the runtime puts in
// CAAS_WS_ENDPOINT.
func New(endpoint string, opts Options) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(endpoint, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("management API endpoint %q: want http(s)://host[/stage]", endpoint)
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	c := &Client{
		base: u, region: opts.Region, creds: opts.Credentials, signer: v4.NewSigner(),
		http: opts.HTTPClient, timeout: opts.Timeout, maxRetries: opts.MaxRetries, sleep: sleepCtx,
	}
	if c.http == nil {
		c.http = sharedHTTP
	}
	if c.timeout <= 0 {
		c.timeout = defaultTimeout
	}
	if c.maxRetries == 0 {
		c.maxRetries = defaultMaxRetries
	} else if c.maxRetries < 0 {
		c.maxRetries = 0
	}
	if c.region == "" {
		c.region = regionOf(u.Hostname())
	}

	if c.creds == nil || c.region == "" {
		if err := c.loadConfig(opts.Getenv); err != nil {
			return nil, err
		}
	}
	if c.region == "" {
		c.region = defaultRegion
	}
	return c, nil
}

// loadConfig takes what Options leave unset from the SDK's configuration. Off AWS and with no
// credentials in the environment, it does not walk the chain (whose instance-metadata probe
// would stall each cold start) and signs with dummy credentials.
func (c *Client) loadConfig(getenv func(string) string) error {
	local := !strings.HasSuffix(c.base.Hostname(), ".amazonaws.com")
	configured := getenv("AWS_ACCESS_KEY_ID") != "" || getenv("AWS_PROFILE") != "" ||
		getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI") != "" || getenv("AWS_WEB_IDENTITY_TOKEN_FILE") != ""
	if local && !configured {
		if c.creds == nil {
			c.creds = dummyCredentials()
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("load AWS configuration: %w", err)
	}
	if c.region == "" {
		c.region = cfg.Region
	}
	if c.creds == nil {
		c.creds = &fallbackCredentials{chain: cfg.Credentials, dummy: dummyCredentials()}
	}
	return nil
}

func dummyCredentials() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider("LOCALDUMMYKEY", "local-dummy-secret", "")
}

// fallbackCredentials answers the chain's credentials, or the dummy ones when the chain has
// none, so a local run without AWS credentials still works.
type fallbackCredentials struct {
	chain, dummy aws.CredentialsProvider
}

func (f *fallbackCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	if f.chain != nil {
		if creds, err := f.chain.Retrieve(ctx); err == nil {
			return creds, nil
		}
	}
	return f.dummy.Retrieve(ctx)
}

// regionOf returns the region of an {api}.execute-api.{region}.amazonaws.com host, else "".
func regionOf(host string) string {
	parts := strings.Split(host, ".")
	if len(parts) == 5 && parts[1] == "execute-api" && parts[3] == "amazonaws" {
		return parts[2]
	}
	return ""
}

// PostToConnection sends data to the connection as one WebSocket message. It returns an error
// matching ErrGone when the connection no longer exists, ErrPayloadTooLarge above 128 KB, and
// ErrThrottled when throttling outlasted the retries.
func (c *Client) PostToConnection(ctx context.Context, connectionID string, data []byte) error {
	if len(data) > MaxPayloadBytes {
		return fmt.Errorf("post to connection %s: %d bytes: %w", connectionID, len(data), ErrPayloadTooLarge)
	}
	if _, err := c.do(ctx, http.MethodPost, connectionID, data); err != nil {
		return fmt.Errorf("post to connection %s: %w", connectionID, err)
	}
	return nil
}

// GetConnection returns what API Gateway knows of the connection: an error matching ErrGone
// when it no longer exists.
func (c *Client) GetConnection(ctx context.Context, connectionID string) (Connection, error) {
	body, err := c.do(ctx, http.MethodGet, connectionID, nil)
	if err != nil {
		return Connection{}, fmt.Errorf("get connection %s: %w", connectionID, err)
	}
	conn, err := decodeConnection(body)
	if err != nil {
		return Connection{}, fmt.Errorf("get connection %s: %w", connectionID, err)
	}
	return conn, nil
}

// DeleteConnection closes the connection; its $disconnect route runs. It returns an error
// matching ErrGone when the connection no longer exists.
func (c *Client) DeleteConnection(ctx context.Context, connectionID string) error {
	if _, err := c.do(ctx, http.MethodDelete, connectionID, nil); err != nil {
		return fmt.Errorf("delete connection %s: %w", connectionID, err)
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
