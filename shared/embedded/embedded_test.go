package embedded

import (
	"context"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// start runs the chosen backends in a fresh temporary directory and closes them when the test
// ends.
func start(t *testing.T, opts Options) *Backends {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

// connectMongo opens a driver client on uri, closed when the test ends.
func connectMongo(t *testing.T, uri string) *mongo.Client {
	t.Helper()
	c, err := mongo.Connect(context.Background(), options.Client().ApplyURI(uri).
		SetServerSelectionTimeout(5*time.Second))
	if err != nil {
		t.Fatalf("connect %s: %v", uri, err)
	}
	t.Cleanup(func() { c.Disconnect(context.Background()) }) //nolint:errcheck // cleanup
	return c
}

func TestStartOnlyChosenBackends(t *testing.T) {
	b := start(t, Options{Redis: true})
	if b.RedisURL == "" {
		t.Error("RedisURL is empty with Redis chosen")
	}
	if b.MongoURI != "" || b.KafkaBrokers != "" {
		t.Errorf("unchosen backends started: mongo %q, kafka %q", b.MongoURI, b.KafkaBrokers)
	}
}

func TestMongoNeedsDir(t *testing.T) {
	_, err := Start(context.Background(), Options{Mongo: true, Redis: true})
	if err == nil {
		t.Fatal("Start with Mongo and no Dir succeeded")
	}
}

func TestAddressesAreLoopback(t *testing.T) {
	b := start(t, Options{Mongo: true, Redis: true, Kafka: true})
	for name, hostport := range hostPorts(t, b) {
		host, _, err := net.SplitHostPort(hostport)
		if err != nil {
			t.Fatalf("%s address %q: %v", name, hostport, err)
		}
		if host != "127.0.0.1" {
			t.Errorf("%s listens on %s, want 127.0.0.1", name, host)
		}
	}
}

func TestRedisServesCommands(t *testing.T) {
	b := start(t, Options{Redis: true})
	opts, err := redis.ParseURL(b.RedisURL)
	if err != nil {
		t.Fatalf("parse %q: %v", b.RedisURL, err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()

	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "v", time.Minute).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	got, err := rdb.Get(ctx, "k").Result()
	if err != nil || got != "v" {
		t.Fatalf("GET = %q, %v; want \"v\"", got, err)
	}
	if n, err := rdb.Incr(ctx, "n").Result(); err != nil || n != 1 {
		t.Fatalf("INCR = %d, %v; want 1", n, err)
	}
}

func TestCloseFreesPorts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := Start(ctx, Options{Dir: t.TempDir(), Mongo: true, Redis: true, Kafka: true, Topics: []string{"t"}})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	addrs := hostPorts(t, b)
	for name, addr := range addrs {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			t.Fatalf("%s at %s does not answer before Close: %v", name, addr, err)
		}
		conn.Close()
	}

	// Clients still connected, as functions are when the runtime stops, must not hold Close up.
	mc := connectMongo(t, b.MongoURI)
	if err := mc.Ping(ctx, nil); err != nil {
		t.Fatalf("mongo ping: %v", err)
	}
	ro, _ := redis.ParseURL(b.RedisURL)
	rdb := redis.NewClient(ro)
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis ping: %v", err)
	}
	kc, err := net.Dial("tcp", addrs["kafka"])
	if err != nil {
		t.Fatalf("kafka dial: %v", err)
	}
	defer kc.Close()

	began := time.Now()
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("Close with connected clients took %v", took)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for name, addr := range addrs {
		if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			conn.Close()
			t.Errorf("%s at %s still accepts connections after Close", name, addr)
		}
		// The port must be free for the next start of the runtime.
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("%s port %s not reusable after Close: %v", name, addr, err)
			continue
		}
		ln.Close()
	}
}

func TestFerretDBDataSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()

	first, err := Start(ctx, Options{Dir: dir, Mongo: true})
	if err != nil {
		t.Fatalf("first Start: %v", err)
	}
	c := connectMongo(t, first.MongoURI)
	if _, err := c.Database("persist").Collection("things").InsertOne(ctx, bson.M{"_id": "a", "n": 1}); err != nil {
		t.Fatalf("insert: %v", err)
	}
	c.Disconnect(ctx) //nolint:errcheck // the server goes away next
	if err := first.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}

	second := start(t, Options{Dir: dir, Mongo: true})
	var got bson.M
	err = connectMongo(t, second.MongoURI).Database("persist").Collection("things").
		FindOne(ctx, bson.M{"_id": "a"}).Decode(&got)
	if err != nil {
		t.Fatalf("find after restart: %v", err)
	}
	if got["n"] != int32(1) {
		t.Errorf("document after restart = %v, want n=1", got)
	}
}

// hostPorts returns the host:port of every started backend, by name.
func hostPorts(t *testing.T, b *Backends) map[string]string {
	t.Helper()
	out := map[string]string{}
	for name, raw := range map[string]string{"mongo": b.MongoURI, "redis": b.RedisURL} {
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("parse %s URL %q: %v", name, raw, err)
		}
		out[name] = u.Host
	}
	if b.KafkaBrokers != "" {
		out["kafka"] = strings.Split(b.KafkaBrokers, ",")[0]
	}
	return out
}

func TestFerretDBRefusesADirectoryInUse(t *testing.T) {
	dir := t.TempDir()
	start(t, Options{Dir: dir, Mongo: true})
	second, err := Start(context.Background(), Options{Dir: dir, Mongo: true})
	if err == nil {
		second.Close()
		t.Fatal("a second FerretDB started on a data directory in use")
	}
	if !strings.Contains(err.Error(), "in use") {
		t.Errorf("error = %v, want it to say the directory is in use", err)
	}
}

func TestFerretDBDataDirectoryNames(t *testing.T) {
	for name, ok := range map[string]bool{"with space": true, "q?mark": false, "hash#x": false, "per%cent": false} {
		b, err := Start(context.Background(), Options{Dir: filepath.Join(t.TempDir(), name), Mongo: true})
		if err == nil {
			b.Close()
		}
		if (err == nil) != ok {
			t.Errorf("directory %q: err = %v, want success %v", name, err, ok)
		}
	}
}
