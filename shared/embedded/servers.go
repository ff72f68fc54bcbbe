package embedded

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/twmb/franz-go/pkg/kfake"
)

// startMiniredis runs miniredis on a free loopback port and returns its URL (database 0).
func startMiniredis() (string, func() error, error) {
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return "", nil, fmt.Errorf("listen: %w", err)
	}
	stop := func() error {
		m.Close() // closes the listener and every client connection, and waits for them
		return nil
	}
	return "redis://" + m.Addr() + "/0", stop, nil
}

// startKfake runs a single kfake broker on a free loopback port with topics created, and returns
// its bootstrap address once it accepts connections.
func startKfake(ctx context.Context, topics []string, logger *slog.Logger) (string, func() error, error) {
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(TopicPartitions),
		kfake.WithLogger(kfakeLogger{logger.With("component", "kfake")}),
	}
	if len(topics) > 0 {
		opts = append(opts, kfake.SeedTopics(TopicPartitions, topics...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return "", nil, fmt.Errorf("create kfake cluster: %w", err)
	}
	stop := func() error {
		c.Close()
		return nil
	}

	brokers := strings.Join(c.ListenAddrs(), ",")
	if err := dialUntilReady(ctx, c.ListenAddrs()[0]); err != nil {
		stop() //nolint:errcheck // never fails
		return "", nil, fmt.Errorf("kfake at %s: %w", brokers, err)
	}
	return brokers, stop, nil
}

// dialUntilReady waits until addr accepts a TCP connection, or readyTimeout passes.
func dialUntilReady(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	var d net.Dialer
	for {
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			return conn.Close()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not accepting connections: %w", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// kfakeLogger routes kfake's warnings and errors to slog; it drops info and debug, which log
// every request.
type kfakeLogger struct{ l *slog.Logger }

// Logf implements kfake.Logger.
func (k kfakeLogger) Logf(level kfake.LogLevel, format string, args ...any) {
	switch level {
	case kfake.LogLevelError:
		k.l.Error(fmt.Sprintf(format, args...))
	case kfake.LogLevelWarn:
		k.l.Warn(fmt.Sprintf(format, args...))
	}
}
