package boot

import (
	"context"
	"errors"
	"fmt"

	"caas.dev/shared/apigw"
	"caas.dev/shared/chat"
	"caas.dev/shared/clock"
	"caas.dev/shared/realtime"
	"caas.dev/shared/redis"
)

// Pusher returns the client of the WebSocket API's management API at CAAS_WS_ENDPOINT (on AWS
// https://{api}.execute-api.{region}.amazonaws.com/{stage}; locally the runtime's), as the
// realtime.Pusher the realtime functions push through.
func (e *Env) Pusher() (realtime.Pusher, error) {
	endpoint, err := e.require("CAAS_WS_ENDPOINT")
	if err != nil {
		return nil, err
	}
	c, err := apigw.New(endpoint, apigw.Options{Getenv: e.getenv})
	if err != nil {
		return nil, fmt.Errorf("management API client: %w", err)
	}
	return gonePusher{c}, nil
}

// gonePusher makes apigw's 410 error match realtime.ErrGone, keeping the cause.
type gonePusher struct{ c *apigw.Client }

func (p gonePusher) PostToConnection(ctx context.Context, connectionID string, data []byte) error {
	err := p.c.PostToConnection(ctx, connectionID, data)
	if errors.Is(err, apigw.ErrGone) {
		return fmt.Errorf("%w: %w", realtime.ErrGone, err)
	}
	return err
}

// Connections returns the WebSocket connection registry in the Redis of REDIS_URL.
func (e *Env) Connections() (*redis.Connections, error) {
	c, err := e.Redis()
	if err != nil {
		return nil, err
	}
	return c.NewConnections(redis.ConnectionsPrefix, realtime.ConnectionTTL, clock.System{}), nil
}

// Realtime returns the realtime service of the WebSocket and presence functions: the
// connection registry, the management API pusher and the chat service (which publishes the
// messages sent over WebSocket to Kafka, as the HTTP send does). With bodies, the chat service
// can seal and open message bodies (sending, pushing messages); without, the function never
// opens the key service.
func (e *Env) Realtime(ctx context.Context, bodies bool) (*realtime.Service, error) {
	deps, err := e.ChatDeps(ctx)
	if err == nil && bodies {
		deps, err = e.MessageDeps(ctx)
	}
	if err != nil {
		return nil, err
	}
	reg, err := e.Connections()
	if err != nil {
		return nil, err
	}
	pusher, err := e.Pusher()
	if err != nil {
		return nil, err
	}
	return &realtime.Service{Registry: reg, Pusher: pusher, Chat: chat.NewService(deps), Clock: clock.System{}, Log: e.Log}, nil
}
