// Package backendtest hands tests the addresses of the backends they run against: the real
// services named by MONGO_URI, REDIS_URL, KAFKA_BROKERS and S3_ENDPOINT when those are set (as
// `make test-real` does), else embedded servers from package embedded; and a KMS (KMSEndpoint):
// the emulator CAAS_KMS_ENDPOINT names, else a local-kms this test binary starts.
//
// Embedded servers start once per test binary, on first use, in a temporary directory, and the
// tests of that binary share them; Prefix keeps their data apart. A configured service that
// does not answer fails the test: a suite meant to run against a real server never passes
// silently without one.
package backendtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
	"go.mongodb.org/mongo-driver/mongo/readpref"

	"caas.dev/shared/embedded"
)

// Environment variables naming real services, as a deployment sets them.
const (
	MongoEnv = "MONGO_URI"
	RedisEnv = "REDIS_URL"
	KafkaEnv = "KAFKA_BROKERS"
)

// probeTimeout bounds the check that a configured service answers.
const probeTimeout = 10 * time.Second

// backend resolves one address once per test binary.
type backend struct {
	once sync.Once
	addr string
	err  error
	// ok is set once addr is known good, so cleanups on other goroutines can read addr.
	ok atomic.Bool
}

var mongoB, redisB, kafkaB backend

// get returns the backend's address, resolving it on first use: from env when set (after probe
// checks it answers), else by starting an embedded server with start.
func (b *backend) get(t testing.TB, env string, probe func(context.Context, string) error, start func() (string, error)) string {
	t.Helper()
	b.once.Do(func() {
		if addr := os.Getenv(env); addr != "" {
			ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
			defer cancel()
			b.addr = addr
			if err := probe(ctx, addr); err != nil {
				b.err = fmt.Errorf("%s=%s is set but the service does not answer (start it with "+
					"`bash tests/scripts/real-services.sh up`, or unset %s to use an embedded server): %w",
					env, addr, env, err)
			}
			return
		}
		b.addr, b.err = start()
	})
	if b.err == nil {
		b.ok.Store(true)
	}
	if b.err != nil {
		t.Fatalf("backendtest: %v", b.err)
	}
	return b.addr
}

// MongoURI returns MONGO_URI when set, else the URI of an embedded FerretDB.
func MongoURI(t testing.TB) string {
	t.Helper()
	return mongoB.get(t, MongoEnv, pingMongo, func() (string, error) {
		b, err := startEmbedded(embedded.Options{Mongo: true})
		if err != nil {
			return "", err
		}
		return b.MongoURI, nil
	})
}

// RedisURL returns REDIS_URL when set, else the URL of an embedded miniredis.
func RedisURL(t testing.TB) string {
	t.Helper()
	return redisB.get(t, RedisEnv, pingRedis, func() (string, error) {
		b, err := startEmbedded(embedded.Options{Redis: true})
		if err != nil {
			return "", err
		}
		return b.RedisURL, nil
	})
}

// SeededTopics exist before the first test, on the embedded broker as on the one
// tests/scripts/real-services.sh starts, as `caas run` and the Migrate function create them.
// Other topics are created when a client asks for them (kafka-go's AllowAutoTopicCreation).
var SeededTopics = []string{"caas.messages"}

// KafkaBrokers returns KAFKA_BROKERS when set, else the address of an embedded kfake broker.
// Topics have embedded.TopicPartitions partitions.
func KafkaBrokers(t testing.TB) string {
	t.Helper()
	return kafkaB.get(t, KafkaEnv, dialKafka, func() (string, error) {
		b, err := startEmbedded(embedded.Options{Kafka: true, Topics: SeededTopics})
		if err != nil {
			return "", err
		}
		return b.KafkaBrokers, nil
	})
}

// startEmbedded starts backends in a directory of their own. They live as long as the test
// binary: nothing stops them, since the process exit does, and stopping them after the first
// test would take them from the tests that follow.
func startEmbedded(opts embedded.Options) (*embedded.Backends, error) {
	dir, err := os.MkdirTemp("", "caas-backendtest-")
	if err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	opts.Dir = dir
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := embedded.Start(ctx, opts)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return b, nil
}

var (
	binaryID    = newBinaryID()
	prefixCount atomic.Uint64
)

// newBinaryID returns a short random tag, so that test binaries running at once against one
// real server (go test runs packages in parallel) never share a prefix.
func newBinaryID() string {
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("backendtest: read random: %v", err))
	}
	return hex.EncodeToString(b[:])
}

// Prefix returns a short prefix unique to this test (such as "t3fa9c2_4_"), for database names,
// Redis keys and Kafka topics and groups. It is short because FerretDB refuses database names
// over 63 bytes. When the test ends, the MongoDB databases named with it are dropped and the
// S3 objects whose key starts with it are deleted.
func Prefix(t testing.TB) string {
	t.Helper()
	p := fmt.Sprintf("t%s_%d_", binaryID, prefixCount.Add(1))
	t.Cleanup(func() {
		dropDatabases(t, p)
		deleteS3Objects(t, p)
	})
	return p
}

// dropDatabases drops the MongoDB databases named with prefix, if this binary used MongoDB.
func dropDatabases(t testing.TB, prefix string) {
	if !mongoB.ok.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	c, err := mongo.Connect(ctx, options.Client().ApplyURI(mongoB.addr))
	if err != nil {
		t.Logf("backendtest: drop %s* databases: %v", prefix, err)
		return
	}
	defer c.Disconnect(context.Background()) //nolint:errcheck // cleanup
	names, err := c.ListDatabaseNames(ctx, bson.M{})
	if err != nil {
		t.Logf("backendtest: list databases: %v", err)
		return
	}
	for _, name := range names {
		if strings.HasPrefix(name, prefix) {
			if err := c.Database(name).Drop(ctx); err != nil {
				t.Logf("backendtest: drop database %s: %v", name, err)
			}
		}
	}
}

// pingMongo checks that a MongoDB server answers at uri.
func pingMongo(ctx context.Context, uri string) error {
	c, err := mongo.Connect(ctx, options.Client().ApplyURI(uri))
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer c.Disconnect(context.Background()) //nolint:errcheck // a probe
	if err := c.Ping(ctx, readpref.Primary()); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

// pingRedis checks that a Redis server answers at url.
func pingRedis(ctx context.Context, url string) error {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return fmt.Errorf("parse URL: %w", err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

// dialKafka checks that the first broker accepts connections.
func dialKafka(ctx context.Context, brokers string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", strings.TrimSpace(strings.Split(brokers, ",")[0]))
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	return conn.Close()
}
