// Command realsvc is the Go half of tests/scripts/real-services.sh: it runs FerretDB on
// PostgreSQL and probes the MongoDB and Kafka servers for readiness.
//
// FerretDB's own command cannot be built from the Go module proxy (its version check panics
// outside FerretDB's repository), so this program embeds the same server through the
// ferretdb package, with the PostgreSQL handler.
//
// Usage:
//
//	realsvc ferretdb -listen 127.0.0.1:27018 -postgresql-url postgres://...
//	realsvc ping-mongo mongodb://127.0.0.1:27018/
//	realsvc ping-kafka 127.0.0.1:19092
//	realsvc create-topics 127.0.0.1:19092 3 caas.messages ...
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"github.com/segmentio/kafka-go"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
	"go.mongodb.org/mongo-driver/mongo/readpref"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: realsvc ferretdb|ping-mongo|ping-kafka ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "ferretdb":
		err = runFerretDB(os.Args[2:])
	case "ping-mongo":
		err = withArg(os.Args[2:], pingMongo)
	case "ping-kafka":
		err = withArg(os.Args[2:], pingKafka)
	case "create-topics":
		err = createTopics(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "realsvc:", err)
		os.Exit(1)
	}
}

// withArg runs a probe on its single argument with a short deadline: the shell script polls.
func withArg(args []string, probe func(context.Context, string) error) error {
	if len(args) != 1 {
		return errors.New("want exactly one address")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return probe(ctx, args[0])
}

// runFerretDB serves until SIGINT or SIGTERM.
func runFerretDB(args []string) error {
	fs := flag.NewFlagSet("ferretdb", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:27018", "TCP address to listen on")
	pgURL := fs.String("postgresql-url", "", "PostgreSQL connection string")
	level := fs.String("log-level", "warn", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *pgURL == "" {
		return errors.New("-postgresql-url is required")
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: *listen},
		Logger:        logger,
		Handler:       "postgresql",
		PostgreSQLURL: *pgURL,
	})
	if err != nil {
		return fmt.Errorf("start ferretdb: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger.Warn("ferretdb listening", "uri", f.MongoDBURI())
	return f.Run(ctx)
}

// pingMongo succeeds when the server at uri answers a ping.
func pingMongo(ctx context.Context, uri string) error {
	c, err := mongo.Connect(ctx, options.Client().ApplyURI(uri).SetServerSelectionTimeout(2*time.Second))
	if err != nil {
		return fmt.Errorf("connect %s: %w", uri, err)
	}
	defer c.Disconnect(context.Background()) //nolint:errcheck // a probe
	if err := c.Ping(ctx, readpref.Primary()); err != nil {
		return fmt.Errorf("ping %s: %w", uri, err)
	}
	return nil
}

// pingKafka succeeds when the broker at addr answers a metadata request and names a
// controller, which a KRaft node does only once its quorum has formed.
func pingKafka(ctx context.Context, addr string) error {
	conn, err := kafka.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("dial %s: %w", addr, err)
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline) //nolint:errcheck // best effort
	}
	if _, err := conn.Controller(); err != nil {
		return fmt.Errorf("metadata from %s: %w", addr, err)
	}
	if _, err := conn.Brokers(); err != nil {
		return fmt.Errorf("brokers from %s: %w", addr, err)
	}
	return nil
}

// createTopics creates the topics the platform publishes to, as the embedded broker seeds them,
// and waits until every partition has a leader: a producer writing the moment after creation
// would otherwise be told the topic does not exist. Existing topics are left as they are.
func createTopics(args []string) error {
	if len(args) < 3 {
		return errors.New("usage: create-topics BROKER PARTITIONS TOPIC...")
	}
	addr, topics := args[0], args[2:]
	partitions, err := strconv.Atoi(args[1])
	if err != nil || partitions < 1 {
		return fmt.Errorf("partitions %q: want a positive number", args[1])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	conn, err := kafka.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("dial %s: %w", addr, err)
	}
	defer conn.Close()
	ctrl, err := conn.Controller()
	if err != nil {
		return fmt.Errorf("find controller: %w", err)
	}
	cc, err := kafka.DialContext(ctx, "tcp", net.JoinHostPort(ctrl.Host, strconv.Itoa(ctrl.Port)))
	if err != nil {
		return fmt.Errorf("dial controller: %w", err)
	}
	defer cc.Close()
	for _, t := range topics {
		err := cc.CreateTopics(kafka.TopicConfig{Topic: t, NumPartitions: partitions, ReplicationFactor: 1})
		if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", t, err)
		}
	}

	for _, t := range topics {
		for {
			parts, err := conn.ReadPartitions(t)
			if err == nil && len(parts) > 0 && allLed(parts) {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("topic %s has no leader for every partition: %v", t, err)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// allLed reports whether every partition has a leader.
func allLed(parts []kafka.Partition) bool {
	for _, p := range parts {
		if p.Leader.ID < 0 || p.Leader.Host == "" {
			return false
		}
	}
	return true
}
