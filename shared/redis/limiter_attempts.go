package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// AttemptLimiter counts failures per key and blocks a key until a time the caller computes; it
// implements identity.AttemptLimiter. Each key is a hash: n (the count), last (the last
// failure) and until (blocked until), times in Unix milliseconds of the caller's clock, so
// tests control them; Redis expiry only cleans up.
type AttemptLimiter struct {
	c      *Client
	prefix string
}

// NewAttemptLimiter returns a limiter whose keys start with prefix.
func (c *Client) NewAttemptLimiter(prefix string) *AttemptLimiter {
	return &AttemptLimiter{c: c, prefix: prefix}
}

// failScript counts one failure at ARGV[1]; a count whose last failure is more than ARGV[2] ms
// old starts again.
var failScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local keep = tonumber(ARGV[2])
local last = tonumber(redis.call('HGET', KEYS[1], 'last') or '0')
if last > 0 and now - last > keep then
  redis.call('DEL', KEYS[1])
end
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
redis.call('HSET', KEYS[1], 'last', now)
redis.call('PEXPIRE', KEYS[1], keep)
return n
`)

// blockScript blocks the key until ARGV[1] (never shortening a longer block) and keeps it for
// ARGV[2] ms.
var blockScript = redis.NewScript(`
local cur = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
if tonumber(ARGV[1]) > cur then
  redis.call('HSET', KEYS[1], 'until', ARGV[1])
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`)

// Blocked returns how long key must still wait at now.
func (l *AttemptLimiter) Blocked(ctx context.Context, key string, now time.Time) (time.Duration, error) {
	v, err := l.c.rdb.HGet(ctx, l.prefix+key, "until").Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read attempt block: %w", err)
	}
	until, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, nil
	}
	wait := time.UnixMilli(until).Sub(now)
	if wait < 0 {
		return 0, nil
	}
	return wait, nil
}

// Fail counts one failure of key at now, blocks it for block(count) and returns the count.
func (l *AttemptLimiter) Fail(ctx context.Context, key string, now time.Time, block func(n int) time.Duration, keep time.Duration) (int, error) {
	k := l.prefix + key
	keepMS := keep.Milliseconds()
	if keepMS < 1000 {
		keepMS = 1000
	}
	n, err := failScript.Run(ctx, l.c.rdb, []string{k}, now.UnixMilli(), keepMS).Int()
	if err != nil {
		return 0, fmt.Errorf("record attempt failure: %w", err)
	}
	if d := block(n); d > 0 {
		until := now.Add(d).UnixMilli()
		if err := blockScript.Run(ctx, l.c.rdb, []string{k}, until, keepMS+d.Milliseconds()).Err(); err != nil {
			return 0, fmt.Errorf("record attempt block: %w", err)
		}
	}
	return n, nil
}

// Reset forgets key.
func (l *AttemptLimiter) Reset(ctx context.Context, key string) error {
	if err := l.c.rdb.Del(ctx, l.prefix+key).Err(); err != nil {
		return fmt.Errorf("reset attempts: %w", err)
	}
	return nil
}
