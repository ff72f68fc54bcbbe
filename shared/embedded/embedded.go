// Package embedded starts in-process stand-ins for the platform's backends: FerretDB on SQLite
// for MongoDB, miniredis for Redis, kfake for Kafka and gofakes3 for S3. The local runtime uses
// them when no real service is configured, and tests use them through package backendtest.
//
// Every server listens on 127.0.0.1 on a free port, so several instances (one per test binary,
// say) can run side by side. FerretDB and S3 keep data on disk, under Options.Dir, so that a
// restarted `caas run` finds its tenants, users and exports again; Redis and Kafka start empty.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
)

// Options chooses which backends Start runs and where they keep their data.
type Options struct {
	// Dir holds persistent data (FerretDB's SQLite files under Dir/ferretdb, S3 objects under
	// Dir/s3). Required when Mongo or S3 is set.
	Dir string

	// Mongo, Redis and Kafka choose the backends to start; the others stay off.
	Mongo, Redis, Kafka bool

	// S3 starts an S3 server (credentials S3AccessKeyID and S3SecretAccessKey, region
	// S3Region) and S3Bucket, when set, is created at start unless it exists.
	S3       bool
	S3Bucket string

	// Topics are created at start, each with TopicPartitions partitions. Others are created
	// when a client's metadata request asks for it (kafka-go's AllowAutoTopicCreation), as a
	// broker with auto.create.topics.enable does.
	Topics []string

	// Logger receives the servers' warnings and errors. Nil discards them.
	Logger *slog.Logger
}

// TopicPartitions is the number of partitions of each seeded or auto-created topic: more than
// one, so that code relying on per-key ordering across partitions is exercised.
const TopicPartitions = 3

// Backends are running embedded servers and the addresses clients use to reach them, in the
// form of the MONGO_URI, REDIS_URL, KAFKA_BROKERS and S3_ENDPOINT environment variables. An
// address is empty when its backend was not started.
type Backends struct {
	MongoURI     string
	RedisURL     string
	KafkaBrokers string
	S3Endpoint   string

	// closers stop the servers, in reverse order of start.
	closers []func() error
}

// Start runs the backends opts asks for and returns once each one answers its protocol.
// On error, the backends already started are stopped again.
func Start(ctx context.Context, opts Options) (*Backends, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	b := &Backends{}

	if opts.Mongo {
		uri, stop, err := startFerretDB(ctx, opts.Dir, logger)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("start embedded mongo: %w", err), b.Close())
		}
		b.MongoURI = uri
		b.closers = append(b.closers, stop)
	}
	if opts.Redis {
		url, stop, err := startMiniredis()
		if err != nil {
			return nil, errors.Join(fmt.Errorf("start embedded redis: %w", err), b.Close())
		}
		b.RedisURL = url
		b.closers = append(b.closers, stop)
	}
	if opts.Kafka {
		brokers, stop, err := startKfake(ctx, opts.Topics, logger)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("start embedded kafka: %w", err), b.Close())
		}
		b.KafkaBrokers = brokers
		b.closers = append(b.closers, stop)
	}
	if opts.S3 {
		endpoint, stop, err := startS3(opts.Dir, opts.S3Bucket, logger)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("start embedded s3: %w", err), b.Close())
		}
		b.S3Endpoint = endpoint
		b.closers = append(b.closers, stop)
	}
	return b, nil
}

// Close stops every server and waits until their ports are released. FerretDB gives clients
// still connected up to 3 seconds to finish. It is safe to call more than once.
func (b *Backends) Close() error {
	var errs []error
	for i := len(b.closers) - 1; i >= 0; i-- {
		if err := b.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	b.closers = nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close embedded backends: %w", err)
	}
	return nil
}
