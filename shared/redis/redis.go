// Package redis implements the platform's Redis-backed services on go-redis v9: the limiter of
// failed logins today. Every key this package writes starts with a prefix naming its purpose
// ("caas:login:"), so data of different features never collide in one logical database.
package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Client is an open connection pool to Redis.
type Client struct {
	rdb *redis.Client
}

// Open parses url (redis:// or rediss://) and returns a client. It does not dial: the first
// command does, so a cold start stays fast; call Ping to check the server.
func Open(url string) (*Client, error) {
	if url == "" {
		return nil, errors.New("open redis: REDIS_URL is empty")
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("open redis: %w", err)
	}
	opts.DialTimeout = 2 * time.Second
	opts.ReadTimeout = 2 * time.Second
	opts.WriteTimeout = 2 * time.Second
	return &Client{rdb: redis.NewClient(opts)}, nil
}

// Close closes the pool.
func (c *Client) Close() error { return c.rdb.Close() }

// Ping checks that the server answers.
func (c *Client) Ping(ctx context.Context) error {
	if err := c.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ping redis: %w", err)
	}
	return nil
}

// FailureLimiter counts failures per key in fixed windows: after Limit failures within Window
// of the first one, the key is blocked until the window ends. It implements
// identity.FailureLimiter.
type FailureLimiter struct {
	c      *Client
	prefix string
	limit  int
	window time.Duration
}

// NewFailureLimiter returns a limiter whose keys start with prefix.
func (c *Client) NewFailureLimiter(prefix string, limit int, window time.Duration) *FailureLimiter {
	return &FailureLimiter{c: c, prefix: prefix, limit: limit, window: window}
}

// recordScript increments the counter and starts its window on the first failure, in one step
// so a crash between the two cannot leave a counter that never expires.
var recordScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 or redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return n
`)

// Blocked returns how long key must wait, or zero when it may try now.
func (l *FailureLimiter) Blocked(ctx context.Context, key string) (time.Duration, error) {
	k := l.prefix + key
	pipe := l.c.rdb.Pipeline()
	get := pipe.Get(ctx, k)
	ttl := pipe.PTTL(ctx, k)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("read failure count: %w", err)
	}
	n, err := strconv.Atoi(get.Val())
	if err != nil || n < l.limit {
		return 0, nil
	}
	wait := ttl.Val()
	if wait <= 0 {
		// The key is about to expire or has no TTL (which recordScript prevents): a second is
		// a safe, short answer.
		wait = time.Second
	}
	return wait, nil
}

// RecordFailure counts one failure for key.
func (l *FailureLimiter) RecordFailure(ctx context.Context, key string) error {
	ms := strconv.FormatInt(l.window.Milliseconds(), 10)
	if err := recordScript.Run(ctx, l.c.rdb, []string{l.prefix + key}, ms).Err(); err != nil {
		return fmt.Errorf("record failure: %w", err)
	}
	return nil
}
