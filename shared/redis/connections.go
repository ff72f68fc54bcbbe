package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"caas.dev/shared/clock"
	"caas.dev/shared/realtime"
)

// ConnectionsPrefix starts every key of the connection registry.
const ConnectionsPrefix = "caas:rt:"

// Connections is the WebSocket connection registry in Redis; it implements realtime.Registry.
//
// Per tenant T it keeps, for each connection C, a hash prefix{T}:c:C (user, connected_at,
// expires_at in Unix milliseconds) and, for each user U, a sorted set prefix{T}:u:U of the
// user's connection ids scored by their expiry. Reads take only the members whose expiry is
// still ahead, by the registry's clock, so an entry whose $disconnect was lost stops counting
// after the TTL even where Redis does not expire keys on its own (miniredis); the keys' own
// Redis expiry then removes the data. The tenant is a hash tag ({T}), so one tenant's keys
// share a Redis Cluster slot and each script touches one slot.
type Connections struct {
	c      *Client
	prefix string
	ttl    time.Duration
	clock  clock.Clock
}

// NewConnections returns the registry with keys under prefix (ConnectionsPrefix in
// production), forgetting a connection ttl after it was added (realtime.ConnectionTTL).
func (c *Client) NewConnections(prefix string, ttl time.Duration, clk clock.Clock) *Connections {
	if clk == nil {
		clk = clock.System{}
	}
	return &Connections{c: c, prefix: prefix, ttl: ttl, clock: clk}
}

func (r *Connections) connKey(tenantID, connID string) string {
	return r.prefix + "{" + tenantID + "}:c:" + connID
}

func (r *Connections) userKey(tenantID, userID string) string {
	return r.prefix + "{" + tenantID + "}:u:" + userID
}

// addScript records a connection and answers how many live connections its user has, in one
// step, so two devices connecting at once cannot both, or neither, be the first.
var addScript = redis.NewScript(`
redis.call('HSET', KEYS[1], 'user', ARGV[1], 'connected_at', ARGV[2], 'expires_at', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return redis.call('ZCARD', KEYS[2])
`)

// removeScript forgets one connection and answers whether it existed and how many live
// connections its user has left.
var removeScript = redis.NewScript(`
local removed = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[2])
return {removed, redis.call('ZCARD', KEYS[2])}
`)

// Add records c; first is true when c is its user's only live connection.
func (r *Connections) Add(ctx context.Context, c realtime.Connection) (bool, error) {
	if c.TenantID == "" || c.UserID == "" || c.ID == "" {
		return false, errors.New("add connection: tenant, user and connection id are required")
	}
	now := r.clock.Now()
	expires := now.Add(r.ttl)
	n, err := addScript.Run(ctx, r.c.rdb,
		[]string{r.connKey(c.TenantID, c.ID), r.userKey(c.TenantID, c.UserID)},
		c.UserID, ms(c.ConnectedAt), ms(expires), ms(now), r.ttl.Milliseconds(), c.ID).Int64()
	if err != nil {
		return false, fmt.Errorf("add connection: %w", err)
	}
	return n == 1, nil
}

// Remove forgets exactly the connection connectionID of the tenant.
func (r *Connections) Remove(ctx context.Context, tenantID, connectionID string) (realtime.Connection, bool, error) {
	c, err := r.Get(ctx, tenantID, connectionID)
	if err != nil {
		return realtime.Connection{}, false, err
	}
	key := r.connKey(tenantID, connectionID)
	res, err := removeScript.Run(ctx, r.c.rdb, []string{key, r.userKey(tenantID, c.UserID)},
		connectionID, ms(r.clock.Now())).Int64Slice()
	if err != nil {
		return c, false, fmt.Errorf("remove connection: %w", err)
	}
	if len(res) != 2 || res[0] == 0 {
		// A concurrent Remove of the same connection got there first: only one reports it.
		return c, false, realtime.ErrConnectionNotFound
	}
	return c, res[1] == 0, nil
}

// Get returns the connection connectionID of the tenant, or realtime.ErrConnectionNotFound.
func (r *Connections) Get(ctx context.Context, tenantID, connectionID string) (realtime.Connection, error) {
	fields, err := r.c.rdb.HGetAll(ctx, r.connKey(tenantID, connectionID)).Result()
	if err != nil {
		return realtime.Connection{}, fmt.Errorf("read connection: %w", err)
	}
	if fields["user"] == "" {
		return realtime.Connection{}, realtime.ErrConnectionNotFound
	}
	return realtime.Connection{ID: connectionID, TenantID: tenantID, UserID: fields["user"],
		ConnectedAt: fromMS(fields["connected_at"])}, nil
}

// Connections returns the live connection ids of each of userIDs, in one round trip.
func (r *Connections) Connections(ctx context.Context, tenantID string, userIDs []string) (map[string][]string, error) {
	out := make(map[string][]string)
	if len(userIDs) == 0 {
		return out, nil
	}
	min := "(" + strconv.FormatInt(ms(r.clock.Now()), 10)
	pipe := r.c.rdb.Pipeline()
	cmds := make([]*redis.StringSliceCmd, len(userIDs))
	for i, u := range userIDs {
		cmds[i] = pipe.ZRangeByScore(ctx, r.userKey(tenantID, u), &redis.ZRangeBy{Min: min, Max: "+inf"})
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("list connections: %w", err)
	}
	for i, u := range userIDs {
		if ids := cmds[i].Val(); len(ids) > 0 {
			out[u] = ids
		}
	}
	return out, nil
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}
